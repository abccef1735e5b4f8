"""The local backend: a warm fork server, one clean process per cell.

Importing this package is cheap and imports nothing else: a fully cached run never needs the
executor. Engine side `executor.LocalExecutor` (and `backend.LocalBackend`, what the backend
registry knows); inside the zygote `zygote_server`, inside each cell's process `harness`.

    executor = LocalExecutor(blobs, preload=["pandas"])
    result = executor.run(CellJob(...), on_stream=lambda stream, text: ...)
"""
