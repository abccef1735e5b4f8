"""Cell tests (SPEC 1, 12): `cells/<id>.test.py` holds pytest tests for the cell `<id>`.

`runner.py` finds the test files and runs pytest on them in a subprocess (what `strata test`
and the editor's Test Explorer both call); `plugin.py` is the pytest plugin that gives each
test its `cell` fixture, the cell's published variables read through the library API
(`strata_engine.library`): from the cache when the cell is ready, else computed first.
A test file is not a cell: it is in no `[[cells]]` entry, so it never enters any key.
"""
