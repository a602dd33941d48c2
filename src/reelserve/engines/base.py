"""The contract between the worker and every engine: parameters in, frames (and audio) out.

Engines know nothing of HTTP, keys, billing or storage. The worker hands an engine a
`GenerationRequest` whose images are already decoded, oriented and flattened to RGB, and
gets back a `GeneratedVideo` whose frames the worker encodes to MP4.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class EngineCapabilities:
    """What an engine can do; `/api/v3/models` publishes this and every refusal follows from it."""

    generative: bool
    sound: bool
    voices: bool
    end_frame: bool
    text_to_video: bool
    multi_prompt: bool

    def as_dict(self) -> dict[str, bool]:
        return {
            "generative": self.generative,
            "sound": self.sound,
            "voices": self.voices,
            "end_frame": self.end_frame,
            "text_to_video": self.text_to_video,
            "multi_prompt": self.multi_prompt,
        }


@dataclass(frozen=True)
class Segment:
    """One stretch of the video with its own prompt; a request without multi_prompt has one."""

    prompt: str
    duration: float


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    segments: list[Segment]
    duration: int
    aspect_ratio: str
    image: Image.Image | None = None
    end_image: Image.Image | None = None
    negative_prompt: str | None = None
    guidance_scale: float | None = None
    sound: bool = False
    voice_samples: list[Path] = field(default_factory=list)
    seed: int | None = None


@dataclass
class GeneratedVideo:
    """Frames are HxWx3 uint8 RGB arrays, all of one size; audio is float32 (samples, channels) in [-1, 1]."""

    frames: Iterable[np.ndarray]
    width: int
    height: int
    fps: int
    frame_count: int
    audio: np.ndarray | None = None
    audio_sample_rate: int | None = None


ProgressCallback = Callable[[float], None]
"""Called with a fraction in [0, 1] as work advances."""

StopCheck = Callable[[], bool]
"""Returns True when the job should stop (cancellation); engines check it between steps."""


class JobInterrupted(Exception):
    """Raised by an engine that saw StopCheck return True."""


class EngineError(Exception):
    """A failure whose message a user can act on; the job ends failed with this message."""


class Engine(Protocol):
    name: str
    capabilities: EngineCapabilities

    def start(self) -> None:
        """Load what the engine needs; raise EngineError naming what is missing."""

    def check(self, request: GenerationRequest) -> None:
        """Refuse with InputError what this engine cannot honour; called at submit, before any charge."""

    def generate(
        self, request: GenerationRequest, progress: ProgressCallback, should_stop: StopCheck
    ) -> GeneratedVideo: ...

    def close(self) -> None: ...
