"""S3Storage against a real S3-compatible server (moto's): the same behaviour as files on disk."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reelserve.storage.base import InvalidKey
from reelserve.storage.s3 import S3Storage
from tests.support.object_store import REGION, S3Server


@pytest.fixture
def storage(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3Storage:
    for name, value in s3_server.env("unused").items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    bucket = s3_server.new_bucket()
    return S3Storage(f"s3://{bucket}/deploy/one", tmp_path / "scratch", s3_server.endpoint_url, REGION)


def test_files_are_written_read_copied_and_deleted_under_the_prefix(storage: S3Storage, s3_server: S3Server) -> None:
    storage.put_bytes("uploads/a/cat.png", b"cat")
    assert storage.read_bytes("uploads/a/cat.png") == b"cat" and storage.size("uploads/a/cat.png") == 3
    assert storage.link("uploads/a/cat.png", "inputs/one-image")
    storage.delete("uploads/a/cat.png")
    assert not storage.exists("uploads/a/cat.png")
    assert storage.read_bytes("inputs/one-image") == b"cat", "the copy stays whole"
    assert s3_server.keys(storage.bucket) == ["deploy/one/inputs/one-image"]
    assert not storage.link("uploads/gone.png", "inputs/two-image")
    with pytest.raises(FileNotFoundError):
        storage.read_bytes("uploads/gone.png")
    storage.delete("uploads/gone.png")


def test_a_scratch_file_moves_in_and_comes_back_as_a_local_copy_or_a_range(storage: S3Storage) -> None:
    scratch = storage.scratch_dir()
    made = scratch / "video.mp4"
    made.write_bytes(bytes(range(256)) * 40_000)
    storage.put_file("outputs/p/p.mp4", made)
    assert not made.exists(), "put_file takes the scratch file"
    copy = storage.local_path("outputs/p/p.mp4", storage.scratch_dir())
    assert copy.read_bytes() == bytes(range(256)) * 40_000
    assert b"".join(storage.iter_range("outputs/p/p.mp4", 10, 20)) == bytes(range(10, 20))
    assert storage.local_file("outputs/p/p.mp4") is None


def test_presigned_links_serve_the_file_with_its_type(storage: S3Storage) -> None:
    storage.put_bytes("outputs/p/poster.jpg", b"\xff\xd8\xff poster")
    url = storage.presigned_get("outputs/p/poster.jpg", 600)
    assert url is not None and url.startswith("http://127.0.0.1:")
    answer = httpx.get(url)
    assert answer.status_code == 200 and answer.content == b"\xff\xd8\xff poster"
    assert answer.headers["content-type"] == "image/jpeg"
    assert "X-Amz-Expires=600" in url


def test_keys_that_leave_the_prefix_are_refused(storage: S3Storage) -> None:
    for key in ("../other/x", "/abs", "a//b", "a/./b", ""):
        with pytest.raises(InvalidKey):
            storage.put_bytes(key, b"x")
