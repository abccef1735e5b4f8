"""Strata engine: everything that is true about a Strata notebook.

Import cost matters: `strata run` on a fully cached notebook must not import pandas,
pyarrow or matplotlib, so this package imports nothing heavy at module level.
"""

__version__ = "0.1.0"
