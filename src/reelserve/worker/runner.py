"""Runs one claimed prediction: stored inputs → engine → MP4 in storage → finished row."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PIL import Image

from reelserve.engines.base import Engine, EngineError, JobInterrupted
from reelserve.errors import ContentPolicyViolation, InputError
from reelserve.media.image import ImageRules, decode_image
from reelserve.media.video import encode_mp4
from reelserve.storage.local import LocalStorage
from reelserve.store import predictions as prediction_store
from reelserve.store.database import Database
from reelserve.store.predictions import Outcome
from reelserve.store.tables import Prediction, Voice
from reelserve.worker.requests import generation_request
from reelserve.worker.voice_job import create_voice

log = logging.getLogger(__name__)


class EngineLookup(Protocol):
    def engine_for(self, route_id: str) -> Engine: ...

PROGRESS_WRITE_INTERVAL_SECONDS = 0.5


class JobRunner:
    def __init__(
        self,
        database: Database,
        storage: LocalStorage,
        engines: EngineLookup,
        image_rules: ImageRules,
        flag_output: Callable[[Path, int], bool],
        voice_model_id: str,
    ) -> None:
        self.database = database
        self.storage = storage
        self.engines = engines
        self.image_rules = image_rules
        self.flag_output = flag_output
        self.voice_model_id = voice_model_id

    def run(self, prediction: Prediction, worker_id: str, should_stop: Callable[[], bool]) -> None:
        """Ends the job completed or failed; JobInterrupted propagates so the pool can requeue it."""
        started = time.perf_counter()
        scratch = self.storage.scratch_dir()
        try:
            if prediction.model == self.voice_model_id:
                voice = create_voice(prediction, self.storage)
                outcome = _completed([voice.id], started, created_voice=voice)
            else:
                output_key, flagged = self._generate(prediction, worker_id, should_stop, scratch)
                outcome = _completed([output_key], started, has_nsfw_contents=[flagged])
        except JobInterrupted:
            raise
        except (EngineError, InputError, ContentPolicyViolation) as exc:
            outcome = _failed(str(exc), started)
        except Exception as exc:
            log.exception("prediction %s failed", prediction.id)
            outcome = _failed(f"internal error while generating the video ({type(exc).__name__}: {exc})", started)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        with self.database.session() as session:
            finished = prediction_store.finish(session, prediction.id, worker_id, outcome)
        if not finished:
            log.warning("prediction %s was taken from worker %s before it finished", prediction.id, worker_id)
            if outcome.created_voice is not None:
                self.storage.delete(outcome.created_voice.storage_key)

    def _generate(
        self, prediction: Prediction, worker_id: str, should_stop: Callable[[], bool], scratch: Path
    ) -> tuple[str, bool]:
        """The stored MP4's key, and whether the content policy flags it."""
        engine = self.engines.engine_for(prediction.model)
        request = generation_request(
            prediction.params,
            self._stored_image(prediction, "image"),
            self._stored_image(prediction, "end_image"),
            [self.storage.path_for(key) for key in prediction.inputs.get("voices", [])],
        )
        video = engine.generate(request, self._progress_writer(prediction.id, worker_id), should_stop)
        local_file = scratch / f"{prediction.id}.mp4"
        info = encode_mp4(video, local_file)
        flagged = self.flag_output(local_file, info.frame_count)
        output_key = f"outputs/{prediction.id}/{prediction.id}.mp4"
        self.storage.put_file(output_key, local_file)
        return output_key, flagged

    def _stored_image(self, prediction: Prediction, field: str) -> Image.Image | None:
        key = prediction.inputs.get(field)
        if key is None:
            return None
        if not self.storage.exists(key):
            raise InputError(f"the {field} given with this prediction is no longer stored; submit it again")
        return decode_image(self.storage.read_bytes(key), self.image_rules, param=field)

    def _progress_writer(self, prediction_id: str, worker_id: str) -> Callable[[float], None]:
        last = {"percent": 0, "at": 0.0}

        def report(fraction: float) -> None:
            percent = max(0, min(99, int(fraction * 100)))
            now = time.monotonic()
            if percent <= last["percent"] or now - last["at"] < PROGRESS_WRITE_INTERVAL_SECONDS:
                return
            last.update(percent=percent, at=now)
            with self.database.session() as session:
                prediction_store.set_progress(session, prediction_id, worker_id, percent)

        return report


def _completed(
    outputs: list[str], started: float, created_voice: Voice | None = None, has_nsfw_contents: list[bool] | None = None
) -> Outcome:
    return Outcome(
        status="completed",
        outputs=outputs,
        error=None,
        inference_ms=int((time.perf_counter() - started) * 1000),
        has_nsfw_contents=has_nsfw_contents or [False] * len(outputs),
        created_voice=created_voice,
    )


def _failed(message: str, started: float) -> Outcome:
    return Outcome(
        status="failed",
        outputs=[],
        error=message,
        inference_ms=int((time.perf_counter() - started) * 1000),
        has_nsfw_contents=[],
    )
