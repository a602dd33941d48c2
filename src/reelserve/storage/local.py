"""Files on local disk under one root, addressed by keys such as `outputs/<id>/video.mp4`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath


class InvalidKey(ValueError):
    pass


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        relative = PurePosixPath(key)
        if relative.is_absolute() or not relative.parts or any(p in ("..", ".", "") for p in relative.parts):
            raise InvalidKey(f"invalid storage key {key!r}")
        return self.root.joinpath(*relative.parts)

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self.path_for(key)
        try:
            handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
        os.replace(temp_name, target)

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

    def delete(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)

    def scratch_dir(self) -> Path:
        """A folder on the same filesystem, for files that will be moved in with put_file."""
        scratch = self.root / ".scratch"
        scratch.mkdir(exist_ok=True)
        return Path(tempfile.mkdtemp(dir=scratch))
