"""`strata worker`: the worker side of executor protocol v1 (SPEC 13).

`bundle` holds the pieces a client shares with the worker (protocol constants, the output
bundle's layout); `requests` parses and validates a request; `http` serves it.
"""
