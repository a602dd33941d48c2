"""Runs one started job: stored inputs → engine → MP4 and poster in storage → the transition that ends it.

The job's stop token says why an engine stopped early: a shutdown sends the job back to the queue, a cancel
ends it cancelled, a deadline ends it timeout.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from reelserve.engines.base import EncodedVideo, Engine, EngineError, JobInterrupted, StopReason, StopToken
from reelserve.errors import ContentPolicyViolation, InputError
from reelserve.jobs.lifecycle import Lifecycle
from reelserve.jobs.status import FailureKind, Status
from reelserve.jobs.transitions import Ended, JobResult
from reelserve.media.image import ImageRules, decode_image
from reelserve.media.posters import poster_jpeg
from reelserve.media.video import encode_mp4
from reelserve.observe import job_events, tracing
from reelserve.observe.context import job_context
from reelserve.speech.backends import SpeechBackend
from reelserve.storage.base import Storage
from reelserve.worker.encoded_output import checked_encoded_output
from reelserve.worker.requests import generation_request
from reelserve.worker.speech_step import speak_over
from reelserve.worker.voice_job import create_voice

log = logging.getLogger(__name__)

PROGRESS_WRITE_INTERVAL_SECONDS = 0.5


class EngineLookup(Protocol):
    def engine_for(self, route_id: str, label: str | None = None) -> Engine: ...

    def speech_for(self, route_id: str, label: str | None = None) -> SpeechBackend: ...


@dataclass(frozen=True)
class Made:
    output_key: str
    poster_key: str
    flagged: bool
    """Whether the content policy (or the provider) flags the video."""
    engine_details: dict[str, Any]
    """Which engine made it and what it reported (a provider's job id, cost, timings): admin-visible."""


class JobRunner:
    def __init__(
        self,
        lifecycle: Lifecycle,
        storage: Storage,
        engines: EngineLookup,
        image_rules: ImageRules,
        flag_output: Callable[[Path, int], bool],
        voice_model_id: str,
    ) -> None:
        self.lifecycle = lifecycle
        self.storage = storage
        self.engines = engines
        self.image_rules = image_rules
        self.flag_output = flag_output
        self.voice_model_id = voice_model_id

    def run(self, job: Any, token: StopToken) -> Ended | None:
        """Runs the job to its end and records that end; None where the job went back to the queue or another
        worker took it."""
        with job_context(job.id, job.key_id, job.worker_id), tracing.job_span(job.id, job.created_at, route=job.model):
            job_events.started(job, job.worker_id)
            return self._run(job, token)

    def _run(self, job: Any, token: StopToken) -> Ended | None:
        worker_id = job.worker_id
        started = time.perf_counter()
        scratch = self.storage.scratch_dir()
        try:
            result = self._produce(job, token, scratch, started)
        except JobInterrupted:
            return self._stopped(job, worker_id, token)
        except EngineError as exc:
            return self.lifecycle.fail(job.id, worker_id, str(exc), _elapsed_ms(started), exc.kind)
        except (InputError, ContentPolicyViolation) as exc:
            return self.lifecycle.fail(job.id, worker_id, str(exc), _elapsed_ms(started), FailureKind.OTHER)
        except Exception as exc:
            log.exception("prediction %s failed", job.id)
            message = f"internal error while generating the video ({type(exc).__name__}: {exc})"
            return self.lifecycle.fail(job.id, worker_id, message, _elapsed_ms(started), FailureKind.CRASH)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        ended = self.lifecycle.finish(job.id, worker_id, result)
        if ended is None or ended.status != Status.COMPLETED:
            # Cancelled or deleted while it ran, or taken from this worker: what it made is nobody's.
            for key in [*result.outputs, *result.posters]:
                if key.startswith("outputs/"):
                    self.storage.delete(key)
            if result.created_voice is not None:
                self.storage.delete(result.created_voice["storage_key"])
        if ended is None:
            log.warning("prediction %s was taken from worker %s before it finished", job.id, worker_id)
        return ended

    def _produce(self, job: Any, token: StopToken, scratch: Path, started: float) -> JobResult:
        if job.model == self.voice_model_id:
            voice = create_voice(job, self.storage)
            return JobResult(outputs=[voice["id"]], inference_ms=_elapsed_ms(started), created_voice=voice)
        made = self._generate(job, token, scratch)
        return JobResult(
            outputs=[made.output_key], posters=[made.poster_key], has_nsfw_contents=[made.flagged],
            inference_ms=_elapsed_ms(started), engine_details=made.engine_details,
        )

    def _stopped(self, job: Any, worker_id: str, token: StopToken) -> Ended | None:
        if token.reason == StopReason.CANCEL:
            return self.lifecycle.stopped_for_cancel(job.id, worker_id)
        if token.reason == StopReason.TIMEOUT:
            return self.lifecycle.expire(job.id, worker_id)
        self.lifecycle.requeue(job.id, worker_id)
        return None

    def _generate(self, job: Any, token: StopToken, scratch: Path) -> Made:
        label = (job.engine_details or {}).get("binding")
        engine = self.engines.engine_for(job.model, label)
        request = generation_request(
            job.params,
            self._stored_image(job, "image"),
            self._stored_image(job, "end_image"),
            [self.storage.local_path(key, scratch) for key in job.inputs.get("voices", [])],
        )
        if job.max_run_seconds:
            request = dataclasses.replace(request, time_limit_seconds=float(job.max_run_seconds))
        with tracing.span("run", job.id, engine=engine.name):
            video = engine.generate(request, self._progress_writer(job.id, job.worker_id), token)
        details: dict[str, Any] = {"engine": engine.name, **({"binding": label} if label else {})}
        local_file = scratch / f"{job.id}.mp4"
        with tracing.span("encode", job.id):
            if isinstance(video, EncodedVideo):
                stored = checked_encoded_output(video, local_file, self.flag_output)
                info, flagged = stored.info, stored.flagged
                details.update(stored.details)
            else:
                video = speak_over(video, request, self.engines.speech_for(job.model, label), token)
                info = encode_mp4(video, local_file)
                flagged = self.flag_output(local_file, info.frame_count)
        with tracing.span("store", job.id):
            poster_key = f"outputs/{job.id}/poster.jpg"
            self.storage.put_bytes(poster_key, poster_jpeg(local_file, info.frame_count))
            output_key = f"outputs/{job.id}/{job.id}.mp4"
            self.storage.put_file(output_key, local_file)
        return Made(output_key, poster_key, flagged, details)

    def _stored_image(self, job: Any, field: str) -> Image.Image | None:
        key = job.inputs.get(field)
        if key is None:
            return None
        if not self.storage.exists(key):
            raise InputError(f"the {field} given with this prediction is no longer stored; submit it again")
        return decode_image(self.storage.read_bytes(key), self.image_rules, param=field)

    def _progress_writer(self, prediction_id: str, worker_id: str) -> Callable[[float], None]:
        last = {"percent": 0, "at": 0.0}
        milestones = job_events.Milestones(prediction_id)

        def report(fraction: float) -> None:
            percent = max(0, min(99, int(fraction * 100)))
            milestones.passed(percent)
            now = time.monotonic()
            if percent <= last["percent"] or now - last["at"] < PROGRESS_WRITE_INTERVAL_SECONDS:
                return
            last.update(percent=percent, at=now)
            self.lifecycle.set_progress(prediction_id, worker_id, percent)

        return report


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
