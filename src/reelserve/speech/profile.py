"""What the approximate backend measures of a voice sample: its pitch (median and spread), its speaking
rate (voiced syllables a second) and its vocal tract (average spectral envelope of its voiced frames)."""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelserve.speech.waves import read_wav_mono
from reelserve.speech.world import FRAME_PERIOD_MS, analyse, mean_log_envelope

ENVELOPE_GRID_HZ = np.linspace(150.0, 5000.0, 120)
MIN_SYLLABLE_SECONDS = 0.04
PAUSE_SECONDS = 0.3
_CACHE_SIZE = 16


@dataclass(frozen=True)
class VoiceProfile:
    median_f0: float
    f0_spread: float
    """Standard deviation of log2 F0 over voiced frames, in octaves."""
    syllables_per_second: float
    envelope: np.ndarray
    """Mean log spectral envelope on ENVELOPE_GRID_HZ."""


def measure(signal: np.ndarray, rate: int) -> VoiceProfile:
    features = analyse(signal, rate)
    voiced = features.f0 > 0
    if voiced.sum() < 20:
        raise ValueError("the voice sample has too little voiced speech to measure its pitch")
    log_f0 = np.log2(features.f0[voiced])
    envelope = mean_log_envelope(features, ENVELOPE_GRID_HZ)
    assert envelope is not None
    return VoiceProfile(
        median_f0=float(2 ** np.median(log_f0)),
        f0_spread=float(np.std(log_f0)),
        syllables_per_second=syllable_rate(voiced),
        envelope=envelope,
    )


def syllable_rate(voiced: np.ndarray) -> float:
    """Voiced runs (syllable nuclei) per second of speaking time, pauses over 0.3 s left out."""
    frame = FRAME_PERIOD_MS / 1000
    edges = np.diff(np.concatenate([[0], voiced.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    runs = [(s, e) for s, e in zip(starts, ends, strict=True) if (e - s) * frame >= MIN_SYLLABLE_SECONDS]
    if not runs:
        return 0.0
    speaking = sum(e - s for s, e in runs) * frame
    for (_, previous_end), (next_start, _) in itertools.pairwise(runs):
        gap = (next_start - previous_end) * frame
        speaking += gap if gap <= PAUSE_SECONDS else 0.0
    return len(runs) / speaking


class ProfileCache:
    """Profiles of stored voice samples, measured once per file (keyed by path, size and mtime)."""

    def __init__(self) -> None:
        self._profiles: OrderedDict[tuple[str, int, int], VoiceProfile] = OrderedDict()
        self._lock = threading.Lock()

    def profile(self, path: Path) -> VoiceProfile:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key in self._profiles:
                self._profiles.move_to_end(key)
                return self._profiles[key]
        signal, rate = read_wav_mono(path)
        found = measure(signal, rate)
        with self._lock:
            self._profiles[key] = found
            while len(self._profiles) > _CACHE_SIZE:
                self._profiles.popitem(last=False)
        return found
