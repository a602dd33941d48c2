from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.images import image_bytes


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(image_bytes(1024, 768))
    return path
