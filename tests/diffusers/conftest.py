"""Tiny pipelines on disk (built once per session) and one started engine per family."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reelserve.engines.diffusers import DiffusersEngine, create_engine
from tests.diffusers.tiny_pipelines import build_tiny_pipeline

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Small enough for two CPU cores: 2 steps, 8 fps (one second = 9 frames), frames of 64x32 pixels.
TEST_FPS = 8
TEST_SIZES = {"16:9": [64, 32], "9:16": [32, 64], "1:1": [32, 32]}


def binding(family: str, weights: Path, **extra: Any) -> dict[str, Any]:
    return {"family": family, "weights": str(weights), "steps": 2, "fps": TEST_FPS, "sizes": TEST_SIZES, **extra}


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Path of a family's tiny pipeline directory, built on first use. Do not modify it: copy it."""
    root = tmp_path_factory.mktemp("tiny-pipelines")
    built: dict[str, Path] = {}

    def weights(family: str) -> Path:
        if family not in built:
            build_tiny_pipeline(family, root / family)
            built[family] = root / family
        return built[family]

    return weights


@pytest.fixture
def weights_copy(tiny_weights: Callable[[str], Path], tmp_path: Path) -> Callable[[str], Path]:
    """A private copy of a tiny pipeline directory, for tests that damage it."""

    def copy(family: str) -> Path:
        return Path(shutil.copytree(tiny_weights(family), tmp_path / family))

    return copy


@pytest.fixture(scope="session")
def started_engine(tiny_weights: Callable[[str], Path]) -> Iterator[Callable[[str], DiffusersEngine]]:
    """One started, loaded engine per family (or tiny variant), shared by the session's tests."""
    engines: dict[str, DiffusersEngine] = {}

    def engine(variant: str) -> DiffusersEngine:
        if variant not in engines:
            family = "wan2.1-i2v" if variant == "wan2.1-flf2v" else variant
            created = create_engine(binding(family, tiny_weights(variant)), base_dir=Path.cwd())
            created.start()
            created.wait_until_ready(timeout=120)
            engines[variant] = created
        return engines[variant]

    yield engine
    for created in engines.values():
        created.close()
