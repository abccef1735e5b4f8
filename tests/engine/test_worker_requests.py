"""The worker's request parsing in process: multipart framing and metadata validation."""

from __future__ import annotations

import json

import pytest

from strata_engine.worker.bundle import is_safe_member, output_file
from strata_engine.worker.multipart import RequestError, parse_multipart
from strata_engine.worker.requests import parse_execute

CT = "multipart/form-data; boundary=XYZ"


def body(*parts: tuple[str, bytes]) -> bytes:
    chunks = [
        b"--XYZ\r\nContent-Disposition: " + header.encode() + b"\r\n\r\n" + data + b"\r\n"
        for header, data in parts
    ]
    return b"".join(chunks) + b"--XYZ--\r\n"


def test_binary_content_survives_exactly() -> None:
    data = bytes(range(256)) + b"\r\n--XY\r\n"
    parts = parse_multipart(
        body(('form-data; name="a"; filename="a.bin"', data)), CT, max_part_bytes=1000
    )
    assert parts["a"].data == data and parts["a"].filename == "a.bin"


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        (body(('form-data; name="a"', b"1"), ('form-data; name="a"', b"2")), 400, "duplicate"),
        (b'--XYZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nunterminated', 400, "ends"),
        (body(('attachment; name="a"', b"1")), 400, "form-data"),
        (body(('form-data; filename="x"', b"1")), 400, "without a name"),
        (body(('form-data; name="a"', b"x" * 11)), 413, "per-part"),
        (b"no boundary here", 400, "opening boundary"),
    ],
)
def test_malformed_multipart_is_refused(raw: bytes, status: int, message: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_multipart(raw, CT, max_part_bytes=10)
    assert info.value.status == status and message in info.value.message


def test_content_type_must_be_multipart_with_boundary() -> None:
    for content_type in ("application/json", "multipart/form-data"):
        with pytest.raises(RequestError, match=r"multipart|boundary"):
            parse_multipart(b"", content_type, max_part_bytes=10)


def _metadata(**params: object) -> bytes:
    document = {
        "protocol_version": "notebook-cell-v1",  # the reference client's spelling
        "transform": {"ref": "notebook_cell@v1", "params": {"source": "x = 1", **params}},
        "inputs": [],
    }
    return json.dumps(document).encode()


def test_reference_protocol_spelling_and_defaults_are_accepted() -> None:
    request = parse_execute(
        body(('form-data; name="metadata"', _metadata())), CT, max_part_bytes=1000
    )
    assert request.source == "x = 1" and request.timeout == 300.0 and request.env == {}


@pytest.mark.parametrize(
    "params",
    [
        {"timeout_seconds": 0},
        {"timeout_seconds": "10"},
        {"timeout_seconds": True},
        {"env": {"A=B": "x"}},
        {"env": {"A": 1}},
        {"mounts": "file:///"},
    ],
)
def test_bad_params_are_400(params: dict[str, object]) -> None:
    with pytest.raises(RequestError) as info:
        parse_execute(
            body(('form-data; name="metadata"', _metadata(**params))), CT, max_part_bytes=1000
        )
    assert info.value.status == 400


@pytest.mark.parametrize("name", ["../x", "a/b", "class", "é", "", "x.y", "a\x00"])
def test_output_files_only_for_identifiers(name: str) -> None:
    with pytest.raises(ValueError):
        output_file(name, "json/object")
    assert output_file("df_1", "arrow/ipc") == "files/df_1.arrow"


@pytest.mark.parametrize(
    ("member", "safe"),
    [
        ("files/x.json", True),
        ("manifest.json", True),
        ("../x", False),
        ("/etc/passwd", False),
        ("files/../../x", False),
        ("files\\x", False),
        ("", False),
    ],
)
def test_is_safe_member(member: str, safe: bool) -> None:
    assert is_safe_member(member) is safe


def test_mounts_keep_only_shareable_options_and_no_cache_path() -> None:
    mounts = [
        {
            "name": "raw",
            "uri": "s3://bucket/raw",
            "options": {"endpoint_url": "http://127.0.0.1:9", "secret": "s", "token": "t"},
            "cache": "/etc",
        }
    ]
    request = parse_execute(
        body(('form-data; name="metadata"', _metadata(mounts=mounts))), CT, max_part_bytes=10_000
    )
    (mount,) = request.mounts
    assert (mount.name, mount.uri, mount.mode) == ("raw", "s3://bucket/raw", "ro")
    assert mount.options == {"endpoint_url": "http://127.0.0.1:9"}
    assert mount.cache is None
