"""Scratch space on this machine's disk: folders and files a process works in before they go to storage.

Scratch files and folders are named after the instance that made them, which holds an exclusive lock (flock) on
`<root>/<instance>.lock` for as long as its process lives; the kernel drops the lock when the process ends,
however it ends. `remove_abandoned` removes what belongs to no live instance: what a process killed with kill -9
left behind.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path

LOCK_SUFFIX = ".lock"
SCRATCH = ".scratch"


class ScratchSpace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._instance: str | None = None
        self._instance_lock: int | None = None
        self._instance_guard = threading.Lock()

    def new_dir(self) -> Path:
        """A folder for one job's files; the caller removes it, and `remove_abandoned` does where its process
        died first."""
        return Path(tempfile.mkdtemp(dir=self.root, prefix=self.prefix()))

    def prefix(self) -> str:
        """'<instance>-': taking the instance's lock first, so that nothing of it ever exists unlocked."""
        if self._instance is None:
            with self._instance_guard:
                if self._instance is None:
                    self.root.mkdir(parents=True, exist_ok=True)
                    instance = secrets.token_hex(8)
                    lock = os.open(self.root / f"{instance}{LOCK_SUFFIX}", os.O_RDWR | os.O_CREAT, 0o600)
                    fcntl.flock(lock, fcntl.LOCK_EX)
                    self._instance_lock, self._instance = lock, instance
        return f"{self._instance}-"

    def remove_abandoned(self) -> int:
        """Removes scratch files and folders whose instance no longer lives (its lock is free); how many."""
        if not self.root.is_dir():
            return 0
        removed = 0
        alive: dict[str, bool] = {}
        locks: list[Path] = []
        for entry in self.root.iterdir():
            if entry.suffix == LOCK_SUFFIX:
                locks.append(entry)
                continue
            instance = entry.name.partition("-")[0]
            if instance not in alive:
                alive[instance] = self._instance_alive(instance)
            if alive[instance]:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
        for lock in locks:
            if not alive.get(lock.stem, self._instance_alive(lock.stem)):
                lock.unlink(missing_ok=True)
        return removed

    def _instance_alive(self, instance: str) -> bool:
        """Whether a process holds the instance's lock. Scratch without a lock file (left by a version before
        these locks) belongs to no one."""
        if instance == self._instance:
            return True
        try:
            lock = os.open(self.root / f"{instance}{LOCK_SUFFIX}", os.O_RDWR)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return False
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(lock)
        return False

    def close(self) -> None:
        """Releases the instance's lock; its scratch is then anyone's to remove."""
        with self._instance_guard:
            if self._instance_lock is not None:
                os.close(self._instance_lock)
                self._instance_lock = self._instance = None
