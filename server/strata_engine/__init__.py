"""Strata engine: everything that is true about a Strata notebook.

Import cost matters: `strata run` on a fully cached notebook must not import pandas,
pyarrow or matplotlib, so this package imports nothing heavy at module level.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "open_notebook"]


def __getattr__(name: str) -> object:
    # `open_notebook` is loaded on first use: `import strata_engine` (which every cell
    # process and the CLI do) must stay free of the session and store modules.
    if name == "open_notebook":
        from strata_engine.library import open_notebook

        return open_notebook
    raise AttributeError(f"module 'strata_engine' has no attribute {name!r}")
