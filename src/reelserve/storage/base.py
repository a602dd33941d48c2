"""What the rest of reelserve needs of a store of files, whichever it is (local disk, an S3-compatible bucket).

Keys are relative paths such as `outputs/<id>/<id>.mp4`. Engines and the speech stage work on local files: a
worker copies what it reads into its scratch space (`local_path`) and writes what it makes there before handing it
to the store (`put_file`). Scratch space is always on this machine's disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol


class InvalidKey(ValueError):
    pass


def key_parts(key: str) -> list[str]:
    """A key's parts, where it is a relative path of plain parts; InvalidKey for anything else (`..`, `.`,
    absolute, empty parts)."""
    parts = key.split("/")
    if "" in parts or "." in parts or ".." in parts:
        raise InvalidKey(f"invalid storage key {key!r}")
    return parts


class Storage(Protocol):
    kind: str
    """"file" or "s3"."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None:
        """The stored file's size in bytes; None where there is none."""

    def put_bytes(self, key: str, data: bytes) -> None:
        """Stores `data` whole: a reader never sees half of it."""

    def put_file(self, key: str, source: Path) -> None:
        """Stores the local file `source` (a scratch file) under `key`; `source` is gone afterwards."""

    def link(self, source_key: str, key: str) -> bool:
        """`key` holds the same bytes as `source_key` without them passing through this process (a hard link on
        disk, a copy inside the object store); False, with nothing done, where it cannot."""

    def read_bytes(self, key: str) -> bytes:
        """The stored bytes; FileNotFoundError where there are none."""

    def local_path(self, key: str, scratch: Path) -> Path:
        """A file on this machine holding the key's bytes, copied into `scratch` where the store is remote."""

    def local_file(self, key: str) -> Path | None:
        """The stored file itself where it lies on this machine's disk; None for a remote store."""

    def iter_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes `start` to `end` (exclusive) of the stored file, in pieces."""

    def presigned_get(self, key: str, ttl_seconds: int) -> str | None:
        """A URL of the store itself that serves the file for `ttl_seconds`; None where the store has none."""

    def delete(self, key: str) -> None:
        """Removes the file; nothing where there is none."""

    def scratch_dir(self) -> Path:
        """A new local folder for one job's files; the caller removes it."""

    def remove_abandoned_scratch(self) -> int: ...

    def close(self) -> None: ...
