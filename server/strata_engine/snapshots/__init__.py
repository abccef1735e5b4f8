"""Reproducible snapshots (SPEC 12): `strata freeze` writes `strata.lock`, `strata verify`
re-executes every cell in a scratch store and compares its outputs with the lock.

Import the submodules (`freeze`, `verify`, `command`) directly: this package imports nothing,
so building the CLI's parser (`command.add_parsers`) costs a fully cached `strata run`
nothing."""
