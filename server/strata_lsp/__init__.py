"""Strata language server (issue 2)."""
