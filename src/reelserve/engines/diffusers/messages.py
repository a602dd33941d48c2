"""What the engine and its worker process say to each other over their pipe (all picklable)."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from .mapping import VideoPlan


@dataclass(frozen=True)
class Job:
    job_id: str
    plan: VideoPlan
    image: Image.Image | None
    end_image: Image.Image | None
    seed: int
    want_audio: bool
    # Folder where the worker writes the frames (and audio) as .npy files for the engine to read.
    output_dir: str


@dataclass(frozen=True)
class Shutdown:
    pass


@dataclass(frozen=True)
class Ready:
    device: str
    dtype: str
    load_seconds: float


@dataclass(frozen=True)
class LoadFailed:
    message: str


@dataclass(frozen=True)
class Progress:
    job_id: str
    steps_done: int


@dataclass(frozen=True)
class JobDone:
    job_id: str
    frames_path: str
    frame_count: int
    width: int
    height: int
    audio_path: str | None
    audio_sample_rate: int | None


@dataclass(frozen=True)
class JobStopped:
    job_id: str


@dataclass(frozen=True)
class JobFailed:
    job_id: str
    message: str
    # The worker exits after a fatal failure (CUDA error, out of memory); the engine starts a new one.
    fatal: bool


WorkerMessage = Ready | LoadFailed | Progress | JobDone | JobStopped | JobFailed
