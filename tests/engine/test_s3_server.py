"""The loopback S3 endpoint the mount and shared-store tests rely on."""

from __future__ import annotations

from s3_server import S3Server


def test_objects_round_trip_through_the_loopback_endpoint(s3_server: S3Server) -> None:
    assert s3_server.endpoint_url.startswith("http://127.0.0.1:")
    fs = s3_server.filesystem()
    bucket = s3_server.new_bucket()
    fs.pipe(f"{bucket}/data/a.csv", b"x,y\n1,2\n")
    assert fs.cat(f"{bucket}/data/a.csv") == b"x,y\n1,2\n"
    assert fs.info(f"{bucket}/data/a.csv")["size"] == 8
    assert s3_server.new_bucket() != bucket
