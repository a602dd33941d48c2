"""Files in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, ...) through obstore, under an optional prefix.

Scratch space stays on this machine's disk. obstore raises FileNotFoundError for a missing object, as a disk
does. Objects are written whole (obstore uses multipart uploads for large files), with the Content-Type their name
implies, so that a presigned link plays in a browser.
"""

from __future__ import annotations

import contextlib
import mimetypes
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import obstore
from obstore.store import S3Store

from reelserve.storage.base import key_parts
from reelserve.storage.scratch import ScratchSpace

CHUNK_BYTES = 1 << 20


class S3Storage:
    kind = "s3"

    def __init__(
        self, url: str, scratch_root: Path, endpoint_url: str | None = None, region: str | None = None
    ) -> None:
        """`url`: s3://bucket[/prefix]. Credentials come from the environment (AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) as obstore reads them."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"an S3 storage URL is s3://bucket[/prefix], not {url!r}")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        config: dict[str, Any] = {}
        if endpoint_url:
            config["endpoint"] = endpoint_url
        if region:
            config["region"] = region
        client_options = {"allow_http": bool(endpoint_url and endpoint_url.startswith("http://"))}
        self.store = S3Store(self.bucket, prefix=self.prefix or None, client_options=client_options, **config)
        self.scratch = ScratchSpace(scratch_root)

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        try:
            return int(obstore.head(self.store, _path(key))["size"])
        except FileNotFoundError:
            return None

    def put_bytes(self, key: str, data: bytes) -> None:
        obstore.put(self.store, _path(key), data, attributes=_attributes(key))

    def put_file(self, key: str, source: Path) -> None:
        obstore.put(self.store, _path(key), source, attributes=_attributes(key))
        source.unlink(missing_ok=True)

    def link(self, source_key: str, key: str) -> bool:
        try:
            obstore.copy(self.store, _path(source_key), _path(key))
        except FileNotFoundError:
            return False
        return True

    def read_bytes(self, key: str) -> bytes:
        return bytes(obstore.get(self.store, _path(key)).bytes())

    def local_path(self, key: str, scratch: Path) -> Path:
        target = scratch / key_parts(key)[-1]
        result = obstore.get(self.store, _path(key))
        with target.open("wb") as handle:
            for chunk in result.stream(min_chunk_size=CHUNK_BYTES):
                handle.write(chunk)
        return target

    def local_file(self, key: str) -> Path | None:
        return None

    def iter_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        if end <= start:
            return
        result = obstore.get(self.store, _path(key), options={"range": (start, end)})
        for chunk in result.stream(min_chunk_size=CHUNK_BYTES):
            yield bytes(chunk)

    def presigned_get(self, key: str, ttl_seconds: int) -> str | None:
        return obstore.sign(self.store, "GET", _path(key), timedelta(seconds=ttl_seconds))

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            obstore.delete(self.store, _path(key))

    def scratch_dir(self) -> Path:
        return self.scratch.new_dir()

    def remove_abandoned_scratch(self) -> int:
        return self.scratch.remove_abandoned()

    def close(self) -> None:
        self.scratch.close()


def _path(key: str) -> str:
    return "/".join(key_parts(key))


def _attributes(key: str) -> dict[str, str]:
    media_type, _ = mimetypes.guess_type(key)
    return {"Content-Type": media_type or "application/octet-stream"}
