"""A job that fails is counted by why it failed, as the runner and the lifecycle know it: the engine's kind, a
crash of reelserve's own code, a refusal of its inputs."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from reelserve.engines.base import EngineCapabilities, EngineError, GenerationRequest, StopCheck
from reelserve.errors import InputError
from reelserve.jobs import admission
from reelserve.jobs.status import FailureKind, Status
from reelserve.jobs.transitions import Ended
from reelserve.media.image import ImageRules
from reelserve.storage.local import LocalStorage
from reelserve.worker.runner import JobRunner
from tests.jobs.conftest import PRICE, Harness

PARAMS = {"prompt": "a slow zoom", "segments": [["a slow zoom", 5]], "duration": 5, "aspect_ratio": "16:9",
          "sound": False}


class FailingEngine:
    """An engine whose every job raises what the test gives it."""

    name = "failing"
    capabilities = EngineCapabilities(generative=True, sound=False, voices=False, end_frame=False,
                                      text_to_video=True, multi_prompt=False)

    def __init__(self) -> None:
        self.raises: BaseException = RuntimeError("not set")

    def generate(self, request: GenerationRequest, progress: object, should_stop: StopCheck) -> None:
        raise self.raises

    def engine_for(self, route_id: str, label: str | None = None) -> FailingEngine:
        return self

    def speech_for(self, route_id: str, label: str | None = None) -> None:
        raise AssertionError("no job here reaches the speech stage")


@pytest.mark.parametrize(("raised", "kind"), [
    (KeyError("frames"), FailureKind.CRASH),
    (EngineError("a CUDA error stopped the generation", kind=FailureKind.CUDA_ERROR), FailureKind.CUDA_ERROR),
    (EngineError("the provider failed the job: CUDA out of memory"), FailureKind.OTHER),
    (InputError("the image given with this prediction is no longer stored"), FailureKind.OTHER),
])
def test_the_runner_says_why_a_job_failed(
    harness: Harness, tmp_path: Path, raised: BaseException, kind: FailureKind
) -> None:
    engine = FailingEngine()
    engine.raises = raised
    runner = JobRunner(harness.lifecycle, LocalStorage(tmp_path / "files"), engine, ImageRules(),  # type: ignore[arg-type]
                       lambda path, frames: False, "voice-model")
    told: list[Ended] = []
    harness.lifecycle.on_ended(told.append)
    prediction = secrets.token_hex(16)
    row = admission.NewJobRow(
        id=prediction, key_id=harness.key.id, account_id=harness.key.account_id, model="m", params=PARAMS,
        inputs={}, price_micros=PRICE, in_flight_limit=1000, queue="q",
    )
    with harness.database.write() as connection:
        admission.admit(connection, harness.queue, [row])
    harness.consume(runner.run)
    deadline = time.monotonic() + 20
    while not told:  # told once the failing transaction has committed
        assert time.monotonic() < deadline, f"{prediction} is still {harness.status(prediction)}"
        time.sleep(0.02)
    assert [(end.prediction_id, end.status, end.failure) for end in told] == [(prediction, Status.FAILED, kind)]
    assert harness.refunded(prediction)
