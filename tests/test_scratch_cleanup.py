"""Scratch files of a process killed with kill -9 are removed: at the next start, and by the background
maintenance of a server that shares the data directory; the scratch of live processes is never touched."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from pathlib import Path

import httpx

from reelserve.storage.local import LOCK_SUFFIX, LocalStorage
from tests.conftest import SEED_ROUTE
from tests.support.images import image_bytes
from tests.support.process import ServerProcess, free_port

# A process that makes scratch space the way a worker does (a folder with a file in it, and a half-written
# file), says so, and then waits to be killed.
HOLDER = """
import sys, tempfile, time
from pathlib import Path
from reelserve.storage.local import LocalStorage
storage = LocalStorage(Path(sys.argv[1]))
folder = storage.scratch_dir()
(folder / "partial.mp4").write_bytes(b"half a video")
tempfile.mkstemp(dir=folder.parent, prefix=folder.name.partition("-")[0] + "-")
print(folder.name.partition("-")[0], flush=True)
time.sleep(600)
"""


def scratch_entries(files_root: Path) -> list[Path]:
    scratch = files_root / ".scratch"
    return sorted(entry for entry in scratch.iterdir() if entry.suffix != LOCK_SUFFIX) if scratch.is_dir() else []


def start_holder(files_root: Path) -> tuple[subprocess.Popen[str], str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(files_root)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    instance = holder.stdout.readline().strip()
    assert instance, "the holder did not start"
    return holder, instance


def owned_by(entries: list[Path], instance: str) -> list[Path]:
    return [entry for entry in entries if entry.name.startswith(instance + "-")]


def test_a_killed_jobs_scratch_is_removed_at_the_next_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir, free_port())
    files_root = data_dir / "files"
    try:
        key = server.first_key()
        assert key is not None
        image = base64.b64encode(image_bytes(1280, 720)).decode()
        submitted = httpx.post(f"{server.base_url}/api/v3/{SEED_ROUTE}", headers={"Authorization": key},
                               json={"prompt": "slowly zoom in", "image": image, "duration": 15}, timeout=60)
        assert submitted.status_code == 200, submitted.text
        deadline = time.monotonic() + 120
        while not any(entry.is_dir() and any(entry.iterdir()) for entry in scratch_entries(files_root)):
            assert time.monotonic() < deadline, "the job never wrote to scratch space"
            time.sleep(0.02)
        left = scratch_entries(files_root)
    finally:
        server.kill()
    assert left and all(entry.exists() for entry in left), "kill -9 leaves the job's scratch behind"

    restarted = ServerProcess(data_dir, free_port())
    try:
        assert not any(entry.exists() for entry in left), "removed at start"
        assert len(list((files_root / ".scratch").glob(f"*{LOCK_SUFFIX}"))) <= 1, "dead instances' locks go too"
    finally:
        restarted.stop()


def test_maintenance_removes_the_scratch_of_processes_killed_while_it_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    files_root = data_dir / "files"
    files_root.mkdir(parents=True)
    server = ServerProcess(data_dir, free_port(), env={"REELSERVE_MAINTENANCE_INTERVAL_SECONDS": "0.3"}, workers=0)
    living, living_instance = start_holder(files_root)
    killed, killed_instance = start_holder(files_root)
    try:
        assert len(owned_by(scratch_entries(files_root), killed_instance)) == 2
        killed.kill()
        killed.wait(30)
        deadline = time.monotonic() + 30
        while owned_by(scratch_entries(files_root), killed_instance):
            assert time.monotonic() < deadline, "maintenance did not remove the killed process's scratch"
            time.sleep(0.1)
        assert not (files_root / ".scratch" / f"{killed_instance}{LOCK_SUFFIX}").exists()
        time.sleep(1)  # several maintenance rounds
        assert len(owned_by(scratch_entries(files_root), living_instance)) == 2, "a live process's scratch stays"
        assert (files_root / ".scratch" / f"{living_instance}{LOCK_SUFFIX}").exists()
    finally:
        living.kill()
        living.wait(30)
        server.stop()


def test_scratch_left_by_a_version_without_locks_belongs_to_no_one(tmp_path: Path) -> None:
    files_root = tmp_path / "files"
    old_folder = files_root / ".scratch" / "tmpab12cd"
    old_folder.mkdir(parents=True)
    (old_folder / "video.mp4").write_bytes(b"x")
    storage = LocalStorage(files_root)
    mine = storage.scratch_dir()
    storage.put_bytes("outputs/a/b.mp4", b"video")
    assert storage.remove_abandoned_scratch() == 1
    assert not old_folder.exists() and mine.exists(), "this instance's own scratch stays"
    assert storage.read_bytes("outputs/a/b.mp4") == b"video"
    assert scratch_entries(files_root) == [mine], "put_bytes leaves no temporary file"
    storage.close()
    assert LocalStorage(files_root).remove_abandoned_scratch() == 1, "closed, its scratch is anyone's"
