"""The diffusers engine as the server sees it: capabilities, request checks, and a resident worker process.

The model lives in a child process (multiprocessing "spawn"), loaded once and kept between jobs. A
crash, an out-of-memory or a CUDA error there fails the job at hand; the engine starts a fresh worker
and the server carries on.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import secrets
import shutil
import signal
import tempfile
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from importlib.util import find_spec
from multiprocessing.connection import Connection
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

from .families import get_family
from .mapping import RouteSettings, VideoPlan, plan_video
from .messages import Job, JobDone, JobFailed, JobStopped, LoadFailed, Progress, Ready, Shutdown
from .options import BindingOptions
from .weights import check_weights_dir
from .worker_process import EXIT_AFTER_FATAL_ERROR, worker_main

log = logging.getLogger("reelserve.engines.diffusers")

_POLL_SECONDS = 0.05
# How long a job that was asked to stop may take to reach the end of its current step.
_STOP_GRACE_SECONDS = 300.0


@dataclass
class _Worker:
    process: Any  # multiprocessing.Process from the spawn context
    connection: Connection
    stop_event: Any
    ready: Ready | None = None

    def poll(self) -> bool:
        """Whether a message (or the end of the pipe) is waiting; a closed pipe counts as the end."""
        try:
            return self.connection.poll(_POLL_SECONDS)
        except (OSError, ValueError):
            return True

    def receive(self) -> object | None:
        """The next message, or None when the worker is gone."""
        try:
            return self.connection.recv()
        except (EOFError, OSError, ValueError):
            return None


def _exit_description(exitcode: int | None) -> str:
    if exitcode is None:
        return "stopped responding"
    if exitcode == EXIT_AFTER_FATAL_ERROR:
        return "stopped after a fatal error"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (often the system's out-of-memory killer)" if exitcode == -signal.SIGKILL else ""
        return f"was killed by {name}{hint}"
    return f"exited with status {exitcode}"


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
        self._context = multiprocessing.get_context("spawn")
        self._job_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._worker: _Worker | None = None
        self._scratch_dir: Path | None = None
        self._closed = False
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
            self._closed = False
            self._worker = self._spawn()

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
        with self._job_lock:
            self._ready_worker(lambda: False, timeout)

    @property
    def worker_pid(self) -> int | None:
        worker = self._worker
        return worker.process.pid if worker is not None and worker.process.is_alive() else None

    def close(self) -> None:
        with self._state_lock:
            self._closed = True
            worker, self._worker = self._worker, None
            if worker is not None:
                self._stop_worker(worker, graceful=True)
            if self._scratch_dir is not None:
                shutil.rmtree(self._scratch_dir, ignore_errors=True)
                self._scratch_dir = None

    # Requests --------------------------------------------------------------------------------------

    def check(self, request: GenerationRequest) -> None:
        """Raise InputError for anything this route's family cannot do, saying what and why."""
        self.plan(request)

    def plan(self, request: GenerationRequest) -> VideoPlan:
        family = self.family
        if request.sound and not family.sound:
            raise InputError(
                f"this model ({family.title}) generates video without sound; set sound to false or leave it out",
                param="sound",
            )
        if request.voice_samples:
            raise InputError(f"this model ({family.title}) does not speak with custom voices", param="voice_list")
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
        with self._job_lock:
            worker = self._ready_worker(should_stop, self.options.load_timeout_seconds)
            if self._scratch_dir is None:
                raise EngineError("the diffusers engine was closed")
            job = Job(
                job_id=uuid.uuid4().hex,
                plan=plan,
                image=request.image,
                end_image=request.end_image,
                seed=seed,
                want_audio=request.sound and self.family.sound,
                output_dir=str(self._scratch_dir),
            )
            worker.stop_event.clear()
            try:
                worker.connection.send(job)
            except OSError:
                self._fail_dead_worker(worker)
            done = self._await_job(worker, job, progress, should_stop)
        return self._collect(done, plan)

    # Worker management -----------------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        parent_end, child_end = self._context.Pipe(duplex=True)
        stop_event = self._context.Event()
        process = self._context.Process(
            target=worker_main,
            args=(child_end, stop_event, self.options),
            name=f"reelserve-diffusers-{self.family.name}",
            daemon=False,
        )
        process.start()
        child_end.close()
        log.info("started diffusers worker pid %s for %s", process.pid, self.family.name)
        return _Worker(process=process, connection=parent_end, stop_event=stop_event)

    def _stop_worker(self, worker: _Worker, graceful: bool) -> None:
        if graceful and worker.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                worker.connection.send(Shutdown())
            worker.process.join(timeout=10)
        if worker.process.is_alive():
            worker.process.terminate()
            worker.process.join(timeout=10)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.connection.close()

    def _replace_worker(self, worker: _Worker) -> None:
        """Retire a failed worker and start its replacement, which loads while the server carries on."""
        with self._state_lock:
            self._stop_worker(worker, graceful=False)
            if self._worker is worker:
                self._worker = None if self._closed else self._spawn()

    def _ready_worker(self, should_stop: StopCheck, timeout: float | None) -> _Worker:
        with self._state_lock:
            if self._closed or self._scratch_dir is None:
                raise EngineError("the diffusers engine is not started")
            idle_worker = self._worker
            if idle_worker is not None and idle_worker.ready is not None and not idle_worker.process.is_alive():
                log.warning(
                    "the %s worker %s while idle; starting a new one",
                    self.family.name,
                    _exit_description(idle_worker.process.exitcode),
                )
                self._stop_worker(idle_worker, graceful=False)
                self._worker = None
            if self._worker is None:
                self._worker = self._spawn()
            worker = self._worker
        if worker.ready is not None:
            return worker
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if worker.poll():
                message = worker.receive()
                if isinstance(message, Ready):
                    worker.ready = message
                    log.info(
                        "%s worker ready on %s (%s) after %.1f s",
                        self.family.name,
                        message.device,
                        message.dtype,
                        message.load_seconds,
                    )
                    return worker
                self._retire_after_load_failure(worker)
                if isinstance(message, LoadFailed):
                    raise EngineError(message.message)
                raise EngineError(
                    f"the {self.family.name} worker {_exit_description(worker.process.exitcode)} while loading"
                )
            if should_stop():
                raise JobInterrupted("stopped while the model was loading")
            if deadline is not None and time.monotonic() > deadline:
                self._retire_after_load_failure(worker)
                raise EngineError(f"the {self.family.name} model did not load within {timeout:.0f} s")

    def _retire_after_load_failure(self, worker: _Worker) -> None:
        # The next job starts a new worker and tries loading again (the weights may have been fixed).
        with self._state_lock:
            self._stop_worker(worker, graceful=False)
            if self._worker is worker:
                self._worker = None

    def _await_job(self, worker: _Worker, job: Job, progress: ProgressCallback, should_stop: StopCheck) -> JobDone:
        total_steps = job.plan.total_steps
        reported = 0.0
        stop_deadline: float | None = None
        timeout = self.options.job_timeout_seconds
        job_deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if worker.poll():
                message = worker.receive()
                if isinstance(message, Progress):
                    # The decode after the last step still takes time: stay below 1 until the frames are out.
                    fraction = min(message.steps_done / total_steps, 1.0) * 0.98
                    if fraction > reported:
                        reported = fraction
                        progress(fraction)
                elif isinstance(message, JobDone):
                    progress(1.0)
                    return message
                elif isinstance(message, JobStopped):
                    raise JobInterrupted("stopped between denoising steps")
                elif isinstance(message, JobFailed):
                    if message.fatal:
                        self._replace_worker(worker)
                    raise EngineError(message.message)
                else:
                    self._fail_dead_worker(worker)
            elif not worker.process.is_alive():
                self._fail_dead_worker(worker)
            now = time.monotonic()
            if stop_deadline is None and should_stop():
                worker.stop_event.set()
                stop_deadline = now + _STOP_GRACE_SECONDS
            elif stop_deadline is not None and now > stop_deadline:
                self._replace_worker(worker)
                raise JobInterrupted("stopped (the worker did not reach the end of its step in time)")
            if job_deadline is not None and now > job_deadline:
                self._replace_worker(worker)
                raise EngineError(f"generation took longer than the route's limit of {timeout:.0f} s")

    def _fail_dead_worker(self, worker: _Worker) -> None:
        worker.process.join(timeout=5)
        description = _exit_description(worker.process.exitcode)
        self._replace_worker(worker)
        raise EngineError(f"the {self.family.name} model worker {description} during generation; it is being restarted")

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


def _close_at_exit(engine_ref: weakref.ref[DiffusersEngine]) -> None:
    engine = engine_ref()
    if engine is not None:
        engine.close()
