"""file:// mounts end to end (issue [5]): a cell sees its mount as a pathlib.Path, the data's
listing enters the key (SPEC 6 item 6), `ro` refuses writes, `rw` writes back only when the
cell succeeds and is never cached."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import write_notebook

from strata_engine.cache.state import CellStatus
from strata_engine.run.events import CellRun
from strata_engine.run.session import Session

Opener = Callable[[Path], Session]


def mount_header(name: str, directory: Path, mode: str = "ro", extra: str = "") -> str:
    return f'[[mounts]]\nname = "{name}"\nuri = "file://{directory}"\nmode = "{mode}"\n{extra}'


def run(session: Session) -> dict[str, CellRun]:
    session.reload()
    return {c.id: c for c in session.run().cells}


def fresh_states(session: Session) -> dict[str, CellStatus]:
    """States as `strata status` sees them: mounts listed now (the editor's may be ~30 s old)."""
    snapshot = session.snapshot()
    snapshot.mount_max_age = 0.0
    return session.states(snapshot)


def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "x.csv").write_text("a,b\n1,2\n3,4\n")
    (data / "sub" / "y.txt").write_text("deep")
    return data


READER = """\
import pathlib
import pandas as pd
print(isinstance(data, pathlib.Path))
print((data / "x.csv").read_text().splitlines()[1])
with open(data / "x.csv") as handle:
    print(handle.readline().strip())
print(int(pd.read_csv(data / "x.csv")["b"].sum()))
print(sorted(p.name for p in data.iterdir()), (data / "sub").is_dir(), (data / "nope").exists())
print(sorted(str(p.relative_to(data)) for p in data.rglob("*.txt")))
"""


def test_a_file_mount_is_a_path_with_the_data(tmp_path: Path, open_session: Opener) -> None:
    data = data_dir(tmp_path)
    nb = write_notebook(tmp_path / "nb", {"reads": READER}, header=mount_header("data", data))
    cells = run(open_session(nb))
    assert cells["reads"].status == "ok", cells["reads"].error
    assert cells["reads"].stdout.splitlines() == [
        "True",
        "1,2",
        "a,b",
        "6",
        "['sub', 'x.csv'] True False",
        "['sub/y.txt']",
    ]


def test_changed_data_makes_the_reader_stale_and_unchanged_data_hits(
    tmp_path: Path, open_session: Opener
) -> None:
    data = data_dir(tmp_path)
    cells = {
        "reads": "n = len((data / 'x.csv').read_text())\n",
        "unrelated": "y = 1\n",
    }
    nb = write_notebook(tmp_path / "nb", cells, header=mount_header("data", data))
    session = open_session(nb)
    first = run(session)
    assert first["reads"].executed and first["unrelated"].executed
    again = run(session)
    assert again["reads"].cache_hit and again["unrelated"].cache_hit

    (data / "x.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    states = fresh_states(session)
    assert states["reads"].state == "stale"
    assert [r.to_json() for r in states["reads"].reasons] == [
        {"reason": "mount_changed", "variable": "mount data"}
    ]
    assert states["unrelated"].state == "ready"  # it does not read the mount
    after = run(session)
    assert after["reads"].executed
    assert after["unrelated"].cache_hit


def test_a_new_file_in_the_directory_is_a_change(tmp_path: Path, open_session: Opener) -> None:
    data = data_dir(tmp_path)
    nb = write_notebook(
        tmp_path / "nb", {"reads": "n = 1\nprint(data)\n"}, header=mount_header("data", data)
    )
    session = open_session(nb)
    run(session)
    (data / "sub" / "new.txt").write_text("new")
    assert fresh_states(session)["reads"].state == "stale"


def test_pin_freezes_the_fingerprint(tmp_path: Path, open_session: Opener) -> None:
    data = data_dir(tmp_path)
    header = mount_header("data", data, extra='pin = "2024-05-01"\n')
    nb = write_notebook(
        tmp_path / "nb", {"reads": "n = (data / 'x.csv').read_text()\n"}, header=header
    )
    session = open_session(nb)
    assert run(session)["reads"].executed
    (data / "x.csv").write_text("changed\n")
    assert fresh_states(session)["reads"].state == "ready"
    assert run(session)["reads"].cache_hit
    (nb / "notebook.toml").write_text(
        (nb / "notebook.toml").read_text().replace("2024-05-01", "2024-06-01")
    )
    session.reload()
    assert [r.kind for r in fresh_states(session)["reads"].reasons] == ["mount_changed"]


WRITER_RO = """\
refused = []
target = data / "x.csv"
for attempt in (
    lambda: target.write_text("oops"),
    lambda: target.write_bytes(b"oops"),
    lambda: target.open("w"),
    lambda: target.open("a"),
    lambda: (data / "new").mkdir(),
    lambda: target.unlink(),
    lambda: (data / "t").touch(),
    lambda: target.rename(data / "z.csv"),
):
    try:
        attempt()
    except PermissionError as exc:
        refused.append("read-only" in str(exc))
print(refused)
# The builtin open gets the local copy, never the source directory itself.
with open(data / "x.csv", "w") as handle:
    handle.write("clobbered")
"""


def test_read_only_refuses_writes_and_the_source_is_untouched(
    tmp_path: Path, open_session: Opener
) -> None:
    data = data_dir(tmp_path)
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    nb = write_notebook(
        tmp_path / "nb",
        {"w": WRITER_RO, "r": "print((data / 'x.csv').read_text())\n"},
        header=mount_header("data", data),
    )
    cells = run(open_session(nb))
    assert cells["w"].status == "ok", cells["w"].error
    assert cells["w"].stdout.strip() == str([True] * 8)
    assert {p: p.read_bytes() for p in data.rglob("*") if p.is_file()} == before
    # The clobbered local copy is noticed (size/mtime) and fetched again for the next reader.
    assert cells["r"].stdout == "a,b\n1,2\n3,4\n\n"


def test_read_write_writes_back_on_success_only_and_never_caches(
    tmp_path: Path, open_session: Opener
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    source = (
        "import pandas as pd\n"
        "print((out / 'keep.txt').read_text())\n"
        "pd.DataFrame({'a': [1]}).to_csv(out / 'table.csv', index=False)\n"
        "(out / 'sub').mkdir()\n"
        "(out / 'sub' / 'note.txt').write_text('hello')\n"
        f"if os.path.exists({str(tmp_path / 'fail')!r}):\n"
        "    raise RuntimeError('boom')\n"
    )
    nb = write_notebook(
        tmp_path / "nb", {"w": "import os\n" + source}, header=mount_header("out", out, "rw")
    )
    session = open_session(nb)
    (tmp_path / "fail").touch()
    failed = run(session)["w"]
    (tmp_path / "fail").unlink()
    assert failed.status == "error" and "boom" in (failed.error or "")
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]  # untouched

    first = run(session)["w"]
    assert first.status == "ok", first.error
    assert first.stdout == "old\n"
    assert (out / "table.csv").read_text() == "a\n1\n"
    assert (out / "sub" / "note.txt").read_text() == "hello"
    assert (out / "keep.txt").read_text() == "old"
    second = run(session)["w"]
    assert second.executed and not second.cache_hit  # a read-write mount is never served
    # No staging directory outlives a run.
    staging = nb / ".strata" / "mounts"
    assert not [p for p in staging.rglob("run-*")]


def test_a_mount_name_is_not_an_unresolved_or_forward_reference(
    tmp_path: Path, open_session: Opener
) -> None:
    data = data_dir(tmp_path)
    cells = {"reads": "n = len(list(data.iterdir()))\n", "later": "data = 3\n"}
    nb = write_notebook(tmp_path / "nb", cells, header=mount_header("data", data))
    session = open_session(nb)
    snapshot = session.snapshot()
    assert [d.code for d in snapshot.cells["reads"].diagnostics] == []
    assert [m.name for m in snapshot.mounts(snapshot.cells["reads"])] == ["data"]
    assert snapshot.mounts(snapshot.cells["later"]) == []
    cells_run = run(session)
    assert cells_run["reads"].status == "ok", cells_run["reads"].error


def test_an_upstream_definition_wins_over_the_mount(tmp_path: Path, open_session: Opener) -> None:
    data = data_dir(tmp_path)
    cells = {"defines": "data = 41\n", "reads": "print(data + 1)\n"}
    nb = write_notebook(tmp_path / "nb", cells, header=mount_header("data", data))
    session = open_session(nb)
    assert session.snapshot().mounts(session.snapshot().cells["reads"]) == []
    assert run(session)["reads"].stdout == "42\n"


def test_an_annotation_mount_shadows_the_notebook_one(tmp_path: Path, open_session: Opener) -> None:
    data = data_dir(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.csv").write_text("other\n")
    source = f"# @mount data file://{other}\nprint((data / 'x.csv').read_text())\n"
    nb = write_notebook(tmp_path / "nb", {"reads": source}, header=mount_header("data", data))
    session = open_session(nb)
    codes = [d.code for d in session.snapshot().cells["reads"].diagnostics]
    assert codes == ["mount_shadows_notebook"]
    assert run(session)["reads"].stdout == "other\n\n"


def test_a_missing_directory_fails_the_cell_by_name(tmp_path: Path, open_session: Opener) -> None:
    missing = tmp_path / "missing"
    nb = write_notebook(
        tmp_path / "nb", {"reads": "print(data)\n"}, header=mount_header("data", missing)
    )
    cell = run(open_session(nb))["reads"]
    assert cell.status == "error"
    assert "mount 'data'" in (cell.error or "") and "does not exist" in (cell.error or "")
