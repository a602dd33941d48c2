"""Files under the storage root: written atomically, linked without copying, folders made as needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelserve.storage.local import InvalidKey, LocalStorage


def test_files_land_in_folders_made_as_needed(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put_bytes("uploads/a/cat.png", b"cat")
    storage.put_bytes("uploads/a/dog.png", b"dog")
    assert storage.read_bytes("uploads/a/cat.png") == b"cat"
    assert [entry.suffix for entry in (tmp_path / ".scratch").iterdir()] == [".lock"], "no temporary file is left"
    assert sorted(entry.name for entry in (tmp_path / "uploads" / "a").iterdir()) == ["cat.png", "dog.png"]

    assert storage.link("uploads/a/cat.png", "inputs/new/one-image")
    assert storage.link("uploads/a/cat.png", "inputs/new/two-image")
    assert (tmp_path / "inputs/new/one-image").stat().st_ino == (tmp_path / "uploads/a/cat.png").stat().st_ino
    storage.delete("uploads/a/cat.png")
    assert storage.read_bytes("inputs/new/one-image") == b"cat", "either name keeps the file"


def test_a_link_to_a_file_that_is_gone_does_nothing(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    assert not storage.link("uploads/gone/cat.png", "inputs/x/one-image")
    assert not storage.link("uploads/gone/cat.png", "inputs/one-image")
    assert not storage.exists("inputs/x/one-image") and not storage.exists("inputs/one-image")


def test_a_link_never_replaces_a_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put_bytes("uploads/a/cat.png", b"cat")
    storage.put_bytes("inputs/one-image", b"other")
    with pytest.raises(FileExistsError):
        storage.link("uploads/a/cat.png", "inputs/one-image")
    assert storage.read_bytes("inputs/one-image") == b"other"


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "/abs/path", ""])
def test_keys_stay_under_the_root(tmp_path: Path, key: str) -> None:
    with pytest.raises(InvalidKey):
        LocalStorage(tmp_path).put_bytes(key, b"x")
