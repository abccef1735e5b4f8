"""Strata language server (issue 2): LSP over stdio, a thin translation layer over
`strata_engine`. Start it with `strata lsp` or `python -m strata_lsp`."""
