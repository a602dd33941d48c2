"""The diffusers engine as the server sees it: capabilities, request checks, and a resident worker process.

The model lives in a child process (reelserve.resident), loaded once and kept between jobs. A crash, an
out-of-memory or a CUDA error there fails the job at hand; a fresh worker starts and the server carries on.
"""

from __future__ import annotations

import atexit
import logging
import secrets
import shutil
import tempfile
import threading
import uuid
import weakref
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from reelserve.engines.base import (
    EngineCapabilities,
    EngineError,
    GeneratedVideo,
    GenerationRequest,
    JobInterrupted,
    ProgressCallback,
    StopCheck,
)
from reelserve.errors import InputError
from reelserve.media.image import ImageFacts
from reelserve.resident import Progress, ResidentWorker, WorkerFailed, WorkerStopped

from .families import get_family
from .mapping import RouteSettings, VideoPlan, plan_video
from .messages import Job, JobDone
from .options import BindingOptions
from .weights import check_weights_dir

log = logging.getLogger("reelserve.engines.diffusers")


class DiffusersEngine:
    name = "diffusers"

    def __init__(self, options: BindingOptions) -> None:
        self.options = options
        self.family = get_family(options.family)
        self.settings = RouteSettings.from_options(self.family, options)
        # A first-and-last-frame checkpoint generates one stretch between two given frames, nothing else.
        self.first_last_frame_only = self.family.first_last_frame_only(options.weights)
        self.capabilities = EngineCapabilities(
            generative=True,
            sound=self.family.sound,
            voices=False,
            end_frame=self.family.end_frame or self.first_last_frame_only,
            text_to_video=not self.first_last_frame_only
            and (self.family.builtin_text_to_video or options.text_to_video_weights is not None),
            multi_prompt=not self.first_last_frame_only,
        )
        self._worker = ResidentWorker(
            f"diffusers-{self.family.name}",
            "reelserve.engines.diffusers.pipeline_runtime:PipelineRuntime",
            options,
            load_timeout_seconds=options.load_timeout_seconds,
            job_timeout_seconds=options.job_timeout_seconds,
            steps="denoising steps",
        )
        self._state_lock = threading.Lock()
        self._scratch_dir: Path | None = None
        atexit.register(_close_at_exit, weakref.ref(self))

    # Lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Check the installation and the weights on disk, then start the worker that loads them.

        Returns while the worker loads; `wait_until_ready()` waits for it, and jobs wait as needed.
        """
        with self._state_lock:
            if self._scratch_dir is not None:
                return
            missing = [name for name in ("torch", "diffusers", "transformers") if find_spec(name) is None]
            if missing:
                raise EngineError(
                    f"the diffusers engine needs {', '.join(missing)}: pip install 'reelserve[diffusion]'"
                )
            self.verify_weights()
            self._scratch_dir = Path(tempfile.mkdtemp(prefix=f"reelserve-{self.family.name}-"))
            self._worker.start()

    def verify_weights(self) -> None:
        family = self.family
        check_weights_dir(self.options.weights, family.pipeline_classes, family.required_components, family.name)
        if self.options.text_to_video_weights is not None:
            check_weights_dir(
                self.options.text_to_video_weights,
                family.text_to_video_pipeline_classes,
                frozenset({"transformer", "vae", "text_encoder", "tokenizer", "scheduler"}),
                f"{family.name} text-to-video",
            )
        for lora in self.options.loras:
            if not lora.path.exists():
                raise EngineError(f"LoRA weights {lora.path} do not exist")

    def wait_until_ready(self, timeout: float | None = None) -> None:
        """Block until the worker has loaded the model; raise EngineError if loading failed."""
        try:
            self._worker.wait_until_ready(timeout)
        except WorkerFailed as failure:
            raise EngineError(_engine_message(failure), kind=failure.kind) from None

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid

    def close(self) -> None:
        with self._state_lock:
            self._worker.close()
            if self._scratch_dir is not None:
                shutil.rmtree(self._scratch_dir, ignore_errors=True)
                self._scratch_dir = None

    # Requests --------------------------------------------------------------------------------------

    def check(self, request: GenerationRequest[ImageFacts]) -> None:
        """Raise InputError for anything this route's family cannot do, saying what and why."""
        self.plan(request)

    def plan(self, request: GenerationRequest[Any]) -> VideoPlan:
        family = self.family
        speaks = request.script is not None and request.script.speaks
        if request.sound and not family.sound and not speaks:
            raise InputError(
                f"this model ({family.title}) generates video without sound; set sound to false or leave it out",
                param="sound",
            )
        if request.end_image is not None:
            if not self.capabilities.end_frame:
                raise InputError(
                    f"this model ({family.title}) cannot be conditioned on an end frame; leave end_image out",
                    param="end_image",
                )
            if request.image is None:
                raise InputError("an end frame needs a start image; add image", param="end_image")
        if self.first_last_frame_only:
            title = f"{family.title}, first-and-last-frame checkpoint"
            if request.image is None:
                raise InputError(f"this model ({title}) needs a start and an end frame; add image", param="image")
            if request.end_image is None:
                raise InputError(f"this model ({title}) needs an end frame; add end_image", param="end_image")
        if request.image is None and not self.capabilities.text_to_video:
            raise InputError(f"this model ({family.title}) generates video from an image; add image", param="image")
        plan = plan_video(request, self.settings)
        if self.first_last_frame_only:
            self._check_single_shot(request, plan)
        return plan

    def _check_single_shot(self, request: GenerationRequest, plan: VideoPlan) -> None:
        title = f"{self.family.title}, first-and-last-frame checkpoint"
        if len(request.segments) > 1:
            raise InputError(
                f"this model ({title}) generates one shot; multi_prompt is not supported", param="multi_prompt"
            )
        if len(plan.segments) > 1:
            seconds = (self.settings.max_frames - 1) / plan.fps
            raise InputError(f"this model ({title}) generates at most {seconds:g} seconds", param="duration")

    def generate(
        self, request: GenerationRequest, progress: ProgressCallback, should_stop: StopCheck
    ) -> GeneratedVideo:
        plan = self.plan(request)
        seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
        scratch_dir = self._scratch_dir
        if scratch_dir is None or not self._worker.started:
            raise EngineError("the diffusers engine is not started")
        job = Job(
            job_id=uuid.uuid4().hex,
            plan=plan,
            image=request.image,
            end_image=request.end_image,
            seed=seed,
            want_audio=request.sound and self.family.sound,
            output_dir=str(scratch_dir),
        )
        reported = 0.0

        def on_progress(message: Progress) -> None:
            nonlocal reported
            # The decode after the last step still takes time: stay below 1 until the frames are out.
            fraction = min(message.steps_done / plan.total_steps, 1.0) * 0.98
            if fraction > reported:
                reported = fraction
                progress(fraction)

        try:
            done = self._worker.run(job, on_progress, should_stop)
        except WorkerStopped as stopped:
            raise JobInterrupted(str(stopped)) from None
        except WorkerFailed as failure:
            raise EngineError(_engine_message(failure), kind=failure.kind) from None
        progress(1.0)
        return self._collect(done, plan)

    def _collect(self, done: JobDone, plan: VideoPlan) -> GeneratedVideo:
        frames = np.load(done.frames_path, mmap_mode="r")
        # The mapping stays readable after the unlink; the file goes away with the last reference.
        Path(done.frames_path).unlink(missing_ok=True)
        audio = None
        if done.audio_path is not None:
            audio = np.load(done.audio_path)
            Path(done.audio_path).unlink(missing_ok=True)
        return GeneratedVideo(
            frames=frames,
            width=done.width,
            height=done.height,
            fps=plan.fps,
            frame_count=done.frame_count,
            audio=audio,
            audio_sample_rate=done.audio_sample_rate if audio is not None else None,
        )


def _engine_message(failure: WorkerFailed) -> str:
    return str(failure).replace("the job took longer than the limit", "generation took longer than the route's limit")


def _close_at_exit(engine_ref: weakref.ref[DiffusersEngine]) -> None:
    engine = engine_ref()
    if engine is not None:
        engine.close()
