"""Jupyter in and out (SPEC 12): `importer.py` (`strata import`) and `exporter.py`
(`strata export`)."""
