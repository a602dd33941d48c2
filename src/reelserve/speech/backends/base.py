"""What every speech backend does: lines of text, each with the voice sample to speak it in, to waveforms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from reelserve.jobs.status import FailureKind

StopCheck = Callable[[], bool]


class SpeechError(Exception):
    """A failure a user or an operator can act on; the job ends failed with this message, counted by its kind."""

    def __init__(self, *args: object, kind: FailureKind = FailureKind.OTHER) -> None:
        super().__init__(*args)
        self.kind = kind


class SpeechInterrupted(Exception):
    """The job was asked to stop while its lines were being spoken."""


@dataclass(frozen=True)
class LineToSpeak:
    text: str
    voice_sample: Path
    """The stored sample: mono 24 kHz 16-bit WAV at -20 dBFS speech level."""
    max_seconds: float
    """The longest the spoken line may last: its window in the video."""


class SpeechBackend(Protocol):
    name: str
    voice_match: str
    """"cloned" where a model clones the sample, "approximate" where speech is only moved toward it."""

    def start(self) -> None:
        """Check what the backend needs and begin loading it; raise SpeechError naming what is missing."""

    def speak(self, lines: list[LineToSpeak], should_stop: StopCheck) -> list[np.ndarray]:
        """One mono float32 waveform at SAMPLE_RATE per line, in order."""
        ...

    def close(self) -> None: ...
