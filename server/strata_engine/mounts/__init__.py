"""Mounts (SPEC 2 `[[mounts]]`, SPEC 4 `@mount`, SPEC 6 item 6): external data a cell reads
(and, read-write, writes) as a `pathlib.Path`.

Engine side: `spec.py` (the effective mount of a cell and what a job carries),
`fingerprints.py` (listings that enter the key, cached with a short time-to-live).
Cell side (imported in the cell's process only): `runtime.py` binds each mount as a
`MountPath` (`path.py`) backed by a `Source` (`source.py`) and a local cache
(`cache.py`); read-write mounts commit on success only. `filesystems.py` opens fsspec
filesystems by URI scheme, with the install hint when a package is missing.
"""
