"""Where cells run: the `Backend` protocol (`base.py`), the registry that places a cell on
its worker's backend (`registry.py`), and one module or package per backend.

Importing this package imports nothing else: the zygote imports `backends.local`'s
cell-side modules on every cold start, and the registry's chain (environments, the
notebook model, every backend) cost it ~50 ms before it could import the cells' packages.
"""
