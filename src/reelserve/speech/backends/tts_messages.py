"""The job a transformers speech backend sends its resident worker, and what comes back (picklable)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SpeakJob:
    job_id: str
    texts: list[str]
    voice_samples: list[str]
    """Path of the stored sample each line is spoken in (mono 24 kHz WAV)."""
    max_seconds: list[float]


@dataclass(frozen=True)
class SpeakDone:
    job_id: str
    waves: list[np.ndarray]
    """One mono float32 waveform per line, at `rate`."""
    rate: int
