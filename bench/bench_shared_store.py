"""A cache hit served from a shared s3:// store (issue [5]) against a local-store hit, in one run.

    .venv/bin/python bench/bench_shared_store.py [--cells 8] [--kib 256] [--repeat 5]

An S3 endpoint is started in this process (moto's ThreadedMotoServer on 127.0.0.1, port 0:
loopback, so the figures are the store's own overhead, not a WAN). A notebook of --cells
chained cells, each publishing about --kib KiB, is computed once per store; then every
figure is a fully cached `Session.run()` in a fresh Session (as `strata run` would):
- baseline: the notebook with the default local store (.strata/artifacts);
- warm read-through: a second checkout of the shared-store notebook whose local cache
  already holds everything (no network: the target is <= 2x the baseline);
- first fetch: a fresh checkout each time, so every hit is fetched from the remote (one
  listing, then each entry and its blobs) into its local cache.
Also per lookup: `index.get_many` of every key plus reading every output blob, without the
run around it. Medians of --repeat; ratios against the baseline measured here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}


def write_notebook(root: Path, cells: int, kib: int, header: str) -> Path:
    (root / "cells").mkdir(parents=True)
    lines = ['notebook_id = "bench-shared"', 'name = "shared"', header, ""]
    for i in range(cells):
        upstream = f" + v{i - 1}[:1]" if i else ""
        # A JSON-exact list of ints of about `kib` KiB: a realistic small intermediate.
        source = f"v{i} = list(range({i}, {i} + {kib * 1024 // 8})){upstream}\nprint(len(v{i}))\n"
        (root / "cells" / f"c{i}.py").write_text(source)
        lines += ["[[cells]]", f'id = "c{i}"', f'file = "c{i}.py"', 'language = "python"']
        lines += [f"order = {i + 1}", ""]
    (root / "notebook.toml").write_text("\n".join(lines))
    return root


def timed_run(directory: Path) -> float:
    from strata_engine.run.session import Session

    started = time.perf_counter()
    with Session(directory) as session:
        report = session.run()
    seconds = time.perf_counter() - started
    if not all(cell.cache_hit for cell in report.cells):
        raise SystemExit(f"{directory}: expected only cache hits")
    return seconds


def keys_of(directory: Path) -> list[str]:
    from strata_engine.run.session import Session

    with Session(directory) as session:
        return [s.key for s in session.states().values() if s.key]


def timed_lookup(directory: Path, keys: list[str], inner: int = 1) -> float:
    """Every key looked up and every output blob read, through the read-write store a run
    uses; the median of `inner` passes (one pass takes about a millisecond: alone, noise)."""
    from strata_engine.run.session import Session

    with Session(directory) as session:
        store = session._open_store()
        passes = []
        for _ in range(inner):
            started = time.perf_counter()
            entries = store.index.get_many(keys)
            for entry in entries.values():
                for value in entry.outputs.values():
                    store.blobs.get_bytes(value.digest)
            passes.append(time.perf_counter() - started)
            if len(entries) != len(keys):
                raise SystemExit(f"{directory}: expected every key to be a hit")
    return statistics.median(passes)


def median(repeat: int, measure: Callable[[int], float]) -> float:
    return statistics.median(measure(i) for i in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--kib", type=int, default=256, help="size of each cell's output")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        with tempfile.TemporaryDirectory(prefix="strata-bench-shared-") as tmp:
            figures = measure(Path(tmp), f"http://{host}:{port}", args)
    finally:
        server.stop()
    report(figures, args)


def measure(tmp: Path, endpoint: str, args: argparse.Namespace) -> dict[str, float]:
    import s3fs

    s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True).mkdir("bench")
    shared = f'[cache]\nstore = "s3://bench/strata"\n[cache.options]\nendpoint_url = "{endpoint}"\n'
    local = write_notebook(tmp / "local", args.cells, args.kib, "")
    first = write_notebook(tmp / "a", args.cells, args.kib, shared)
    warm = write_notebook(tmp / "b", args.cells, args.kib, shared)
    from strata_engine.run.session import Session

    for directory in (local, first):  # compute once (and upload, for the shared store)
        with Session(directory) as session:
            if not session.run().success:
                raise SystemExit(f"{directory}: the notebook failed")
    timed_run(warm)  # fetches everything once into b's local cache

    def fresh(i: int, kind: str) -> Path:
        target = tmp / f"{kind}-{i}"
        shutil.copytree(first, target, ignore=shutil.ignore_patterns(".strata"))
        return target

    fs = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)
    objects = sorted(fs.find("bench/strata"))

    def floor(_: int) -> float:
        started = time.perf_counter()
        fs.ls("bench/strata/index", refresh=True)
        for name in objects:
            fs.cat_file(name)
        return time.perf_counter() - started

    keys = keys_of(local)  # the same cells and environment: the same keys everywhere
    if keys != keys_of(warm):
        raise SystemExit("the local and shared notebooks disagree on their keys")
    return {
        "floor": median(args.repeat, floor),
        "objects": float(len(objects)),
        "run_local": median(args.repeat, lambda i: timed_run(local)),
        "run_warm": median(args.repeat, lambda i: timed_run(warm)),
        "run_first": median(args.repeat, lambda i: timed_run(fresh(i, "run"))),
        "get_local": median(args.repeat, lambda i: timed_lookup(local, keys, 15)),
        "get_warm": median(args.repeat, lambda i: timed_lookup(warm, keys, 15)),
        "get_first": median(args.repeat, lambda i: timed_lookup(fresh(i, "get"), keys)),
    }


def report(f: dict[str, float], args: argparse.Namespace) -> None:
    print(
        f"Shared s3:// store on a loopback moto server: {args.cells} cached cells of "
        f"~{args.kib} KiB each, median of {args.repeat}\n"
    )
    print(
        "| hit served from | fully cached run (ms) | vs local | lookups + blob reads (ms) "
        "| vs local |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, run_key, get_key in (
        ("local store (baseline)", "run_local", "get_local"),
        ("shared store, warm read-through cache", "run_warm", "get_warm"),
        ("shared store, first fetch from the remote", "run_first", "get_first"),
    ):
        print(
            f"| {label} | {f[run_key] * 1000:.1f} | {f[run_key] / f['run_local']:.2f}x | "
            f"{f[get_key] * 1000:.2f} | {f[get_key] / f['get_local']:.2f}x |"
        )
    print(
        f"\nFloor: one listing plus a plain s3fs GET of each of the {int(f['objects'])} remote "
        f"objects, sequentially: {f['floor'] * 1000:.1f} ms (first fetch, lookups: "
        f"{f['get_first'] / f['floor']:.2f}x that floor)."
    )
    verdict = "met" if f["run_warm"] <= 2 * f["run_local"] else "NOT met"
    print(f"\nTarget: a warm read-through hit <= 2x a local hit (whole run): {verdict}.")


if __name__ == "__main__":
    main()
