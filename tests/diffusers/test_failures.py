"""Weights that are missing or broken, workers that die, jobs that fail or are stopped."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from reelserve.engines.base import EngineError, JobInterrupted, Segment
from reelserve.engines.diffusers import DiffusersEngine, create_engine
from reelserve.jobs.status import FailureKind
from tests.diffusers.conftest import binding
from tests.diffusers.test_families import request

WeightsCopy = Callable[[str], Path]


def started(family: str, weights: Path, **extra: object) -> DiffusersEngine:
    engine = create_engine(binding(family, weights, **extra), base_dir=weights.parent)
    engine.start()
    return engine


def test_missing_weights_directory_names_the_path(tmp_path: Path) -> None:
    engine = create_engine(binding("wan2.2-ti2v-5b", tmp_path / "nowhere"), base_dir=tmp_path)
    with pytest.raises(EngineError, match=r"nowhere does not exist.*model_index\.json"):
        engine.start()


def test_relative_weights_are_found_from_the_config_folder(weights_copy: WeightsCopy) -> None:
    weights = weights_copy("ltx-video")
    engine = create_engine(binding("ltx-video", Path(weights.name)), base_dir=weights.parent)
    assert engine.options.weights == weights
    engine.verify_weights()


def test_incomplete_weights_name_every_missing_file(weights_copy: WeightsCopy) -> None:
    weights = weights_copy("wan2.1-i2v")
    (weights / "transformer" / "diffusion_pytorch_model.safetensors").unlink()
    (weights / "scheduler" / "scheduler_config.json").unlink()
    engine = create_engine(binding("wan2.1-i2v", weights), base_dir=weights.parent)
    with pytest.raises(EngineError) as failure:
        engine.start()
    message = str(failure.value)
    assert str(weights) in message
    assert "transformer/ weights" in message and "scheduler/scheduler_config.json" in message
    assert "image_encoder/" in message  # the list of what a complete directory holds

    (weights / "model_index.json").unlink()
    with pytest.raises(EngineError, match=r"no model_index\.json"):
        engine.start()


def test_weights_of_another_family_are_refused(tiny_weights: Callable[[str], Path]) -> None:
    engine = create_engine(binding("wan2.2-i2v-a14b", tiny_weights("ltx-video")), base_dir=Path.cwd())
    with pytest.raises(EngineError, match=r"declares 'LTXPipeline', which is not a wan2\.2-i2v-a14b pipeline"):
        engine.start()
    engine = create_engine(binding("wan2.2-i2v-a14b", tiny_weights("wan2.1-i2v")), base_dir=Path.cwd())
    with pytest.raises(EngineError, match="transformer_2/"):
        engine.start()


def test_corrupt_weights_fail_the_job_and_a_repair_is_picked_up(weights_copy: WeightsCopy) -> None:
    weights = weights_copy("ltx-video")
    transformer = weights / "transformer" / "diffusion_pytorch_model.safetensors"
    intact = transformer.read_bytes()
    transformer.write_bytes(b"not a safetensors file")
    engine = started("ltx-video", weights)
    try:
        with pytest.raises(EngineError, match="could not load the ltx-video pipeline from"):
            engine.generate(request(), lambda _: None, lambda: False)
        transformer.write_bytes(intact)
        video = engine.generate(request(), lambda _: None, lambda: False)
        assert video.frame_count == 9
    finally:
        engine.close()


def test_a_killed_worker_fails_its_job_and_is_replaced(weights_copy: WeightsCopy) -> None:
    engine = started("wan2.2-ti2v-5b", weights_copy("wan2.2-ti2v-5b"), steps=6)
    try:
        engine.wait_until_ready(timeout=120)
        first_pid = engine.worker_pid
        assert first_pid is not None

        kills: list[int] = []

        def kill_worker(fraction: float) -> None:
            if not kills:
                os.kill(first_pid, signal.SIGKILL)
                kills.append(first_pid)

        with pytest.raises(EngineError, match=r"killed by SIGKILL.*restarted") as killed:
            engine.generate(request(), kill_worker, lambda: False)
        assert killed.value.kind == FailureKind.OOM  # SIGKILL: most often the kernel's out-of-memory killer
        video = engine.generate(request(), lambda _: None, lambda: False)
        assert video.frame_count == 9
        assert engine.worker_pid not in (None, first_pid)
    finally:
        engine.close()


def test_a_failing_pipeline_fails_the_job_and_the_worker_stays(weights_copy: WeightsCopy) -> None:
    engine = started("wan2.1-i2v", weights_copy("wan2.1-i2v"), pipeline_kwargs={"num_videos_per_prompt": 0})
    try:
        engine.wait_until_ready(timeout=120)
        pid = engine.worker_pid
        for _ in range(2):
            with pytest.raises(EngineError, match="generation failed: ") as failed:
                engine.generate(request(), lambda _: None, lambda: False)
            assert failed.value.kind == FailureKind.OTHER
        assert engine.worker_pid == pid
    finally:
        engine.close()


def test_stopping_interrupts_between_steps(started_engine: Callable[[str], DiffusersEngine]) -> None:
    engine = started_engine("ltx-video")
    pid = engine.worker_pid
    progress: list[float] = []
    six_passes = request(segments=[Segment(f"shot {index}", 1) for index in range(6)], duration=6)
    with pytest.raises(JobInterrupted, match="between denoising steps"):
        # Stop is asked for from the start: the worker sees it at its first step boundary, whatever the timing.
        engine.generate(six_passes, progress.append, lambda: True)
    assert max(progress, default=0.0) < 0.5
    assert engine.worker_pid == pid, "an interrupted job leaves the model loaded"
    assert engine.generate(request(), lambda _: None, lambda: False).frame_count == 9


def test_offloading_without_a_gpu_fails_with_the_reason(tiny_weights: Callable[[str], Path]) -> None:
    engine = started("ltx-video", tiny_weights("ltx-video"), device="cpu", cpu_offload="model")
    try:
        with pytest.raises(EngineError, match="cpu_offload = 'model' needs a GPU device"):
            engine.wait_until_ready(timeout=120)
    finally:
        engine.close()
