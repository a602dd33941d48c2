"""The contract between the worker and every engine: parameters in, frames (and audio) or a file out.

Engines know nothing of HTTP, keys, billing or storage. The worker hands an engine a
`GenerationRequest` whose images are already decoded, oriented and flattened to RGB, and
gets back either a `GeneratedVideo` whose frames the worker encodes to MP4, or an `EncodedVideo`
(a hosted provider's MP4) that the worker checks and stores as it is. At submit, `Engine.check`
is given the same request with the images' facts (format, upright size) in place of their pixels.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from PIL import Image

from reelserve.jobs.status import FailureKind
from reelserve.media.image import ImageFacts
from reelserve.speech.script import Script


@dataclass(frozen=True)
class EngineCapabilities:
    """What an engine can do; `/api/v3/models` publishes this and every refusal follows from it."""

    generative: bool
    sound: bool
    voices: bool
    end_frame: bool
    text_to_video: bool
    multi_prompt: bool
    encoded_output: bool = False
    """Hands back a finished file (a provider's MP4) rather than frames: no speech stage can be laid over it."""

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


ImageT = TypeVar("ImageT", Image.Image, ImageFacts)
"""How a request holds its images: decoded (Image.Image) when it runs, as facts (ImageFacts) when it is checked."""


@dataclass(frozen=True)
class GenerationRequest(Generic[ImageT]):
    prompt: str
    segments: list[Segment]
    duration: int
    aspect_ratio: str
    image: ImageT | None = None
    end_image: ImageT | None = None
    negative_prompt: str | None = None
    guidance_scale: float | None = None
    sound: bool = False
    voice_samples: list[Path] = field(default_factory=list)
    seed: int | None = None
    script: Script | None = None
    """The lines the speech stage speaks over the video (voice_list); the engine makes the picture (and its
    own sound, where it makes some) and leaves the speaking to that stage."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """The route's accepted parameters as stored (field names; images as a note, the images are above).
    Hosted providers are sent these; local engines read the fields above."""
    time_limit_seconds: float | None = None
    """How long the job may take, where the job has a limit; engines that wait on others keep within it."""


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


@dataclass(frozen=True)
class ProviderReport:
    """What a hosted provider said about a job, for the prediction's admin view."""

    provider: str
    model: str
    job_id: str | None
    cost: float | None = None
    """As the provider reported it, in `cost_unit`; None where it reports none."""
    cost_unit: str | None = None
    timings_ms: Mapping[str, int] = field(default_factory=dict)
    """Provider-reported durations (queue, inference, total), in milliseconds."""


@dataclass
class EncodedVideo:
    """A finished video file (a hosted provider's MP4). The worker moves `path` into storage."""

    path: Path
    has_nsfw_contents: bool = False
    provider: ProviderReport | None = None


ProgressCallback = Callable[[float], None]
"""Called with a fraction in [0, 1] as work advances."""

StopCheck = Callable[[], bool]
"""Returns True when the job should stop; engines check it between steps (frames, denoising steps)."""


class StopReason(StrEnum):
    SHUTDOWN = "shutdown"
    """The worker is going away: the job goes back to the queue."""
    CANCEL = "cancel"
    """The client cancelled or deleted the job: it ends cancelled."""
    TIMEOUT = "timeout"
    """The job ran past its max_run_seconds: it ends timeout."""


class StopToken:
    """A StopCheck that says why: engines call it, the worker reads `reason` once the engine has stopped."""

    def __init__(self) -> None:
        self._reason: StopReason | None = None
        self._stopped = threading.Event()

    def stop(self, reason: StopReason) -> None:
        """The first reason given is the one that counts."""
        if self._reason is None:
            self._reason = reason
            self._stopped.set()

    @property
    def reason(self) -> StopReason | None:
        return self._reason

    def __call__(self) -> bool:
        return self._stopped.is_set()

    def wait(self, timeout: float) -> bool:
        return self._stopped.wait(timeout)


class JobInterrupted(Exception):
    """Raised by an engine that saw its StopCheck return True."""


class EngineError(Exception):
    """A failure whose message a user can act on; the job ends failed with this message, counted by its kind."""

    kind = FailureKind.OTHER

    def __init__(self, *args: object, kind: FailureKind | None = None) -> None:
        super().__init__(*args)
        if kind is not None:
            self.kind = kind


class EngineTimedOut(EngineError):
    """The job ran past its time limit (a hosted provider never finished it)."""

    kind = FailureKind.TIMEOUT


class Engine(Protocol):
    name: str
    capabilities: EngineCapabilities

    def start(self) -> None:
        """Load what the engine needs; raise EngineError naming what is missing."""

    def check(self, request: GenerationRequest[ImageFacts]) -> None:
        """Refuse with InputError what this engine cannot honour; called at submit, before any charge."""

    def generate(
        self, request: GenerationRequest[Image.Image], progress: ProgressCallback, should_stop: StopCheck
    ) -> GeneratedVideo | EncodedVideo: ...

    def close(self) -> None: ...
