"""The jobs the engine sends its resident worker process and the results it gets back (all picklable);
the rest of their conversation is reelserve.resident.messages."""

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
class JobDone:
    job_id: str
    frames_path: str
    frame_count: int
    width: int
    height: int
    audio_path: str | None
    audio_sample_rate: int | None
