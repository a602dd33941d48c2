"""Files on local disk under one root, addressed by keys such as `outputs/<id>/video.mp4`."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from reelserve.storage.base import InvalidKey, key_parts
from reelserve.storage.scratch import LOCK_SUFFIX, SCRATCH, ScratchSpace

__all__ = ["LOCK_SUFFIX", "SCRATCH", "InvalidKey", "LocalStorage"]


class LocalStorage:
    """Files under `root`, and scratch space beside them (`.scratch`, same filesystem, so that a finished file
    moves in with a rename). See storage/scratch.py for who owns scratch files."""

    kind = "file"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.scratch = ScratchSpace(self.root / SCRATCH)

    def path_for(self, key: str) -> Path:
        return self.root.joinpath(*key_parts(key))

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def size(self, key: str) -> int | None:
        try:
            found = self.path_for(key).stat()
        except (InvalidKey, OSError):
            return None
        return found.st_size if stat.S_ISREG(found.st_mode) else None

    def put_bytes(self, key: str, data: bytes) -> None:
        """Writes in scratch space first, then renames into place: a reader never sees half a file."""
        target = self.path_for(key)
        handle, temp_name = tempfile.mkstemp(dir=self.scratch.root, prefix=self.scratch.prefix())
        try:
            with os.fdopen(handle, "wb") as temp:
                temp.write(data)
            try:
                os.replace(temp_name, target)
            except FileNotFoundError:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    def link(self, source_key: str, key: str) -> bool:
        """Gives the file at `source_key` a second name, `key`: no bytes copied, and deleting either name
        leaves the other whole. False, with nothing done, where the source is gone or the filesystem has no
        hard links."""
        source, target = self.path_for(source_key), self.path_for(key)
        try:
            try:
                os.link(source, target)
            except FileNotFoundError:
                if target.parent.is_dir():
                    return False
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(source, target)
        except FileExistsError:
            raise
        except OSError:
            return False
        return True

    def put_file(self, key: str, source: Path) -> None:
        """Move `source` into storage; it is atomic when both lie on one filesystem."""
        target = self.path_for(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)

    def read_bytes(self, key: str) -> bytes:
        return self.path_for(key).read_bytes()

    def local_path(self, key: str, scratch: Path) -> Path:
        """A local file holding the key's bytes: the stored file itself (nothing to copy)."""
        path = self.path_for(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path

    def local_file(self, key: str) -> Path | None:
        """The stored file on this machine's disk, for serving it as a file."""
        try:
            path = self.path_for(key)
        except InvalidKey:
            return None
        return path if path.is_file() else None

    def iter_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        with self.path_for(key).open("rb") as handle:
            handle.seek(start)
            left = end - start
            while left > 0:
                chunk = handle.read(min(left, 1 << 20))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

    def presigned_get(self, key: str, ttl_seconds: int) -> str | None:
        """None: files on local disk are served by the API at its own signed links."""
        return None

    def delete(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)

    def scratch_dir(self) -> Path:
        return self.scratch.new_dir()

    def remove_abandoned_scratch(self) -> int:
        return self.scratch.remove_abandoned()

    def close(self) -> None:
        self.scratch.close()
