"""Frame-by-frame measurements of a recording, the raw material of the voice checks.

The audio is cut into 40 ms frames every 20 ms: long enough to hold three periods of a low (75 Hz)
voice, short enough that a syllable spans several frames. Each frame gets its level, zero-crossing
rate, spectral flatness and periodicity, all computed for every frame at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from reelserve.media.audio_levels import to_dbfs

FRAME_SECONDS = 0.040
HOP_SECONDS = 0.020
SPEECH_BAND_HZ = (100.0, 5000.0)
"""Where voiced speech has its harmonics and formants; flatness is measured there only, so that
hiss above the band and hum below it do not decide whether a frame looks like a voice."""
PITCH_RANGE_HZ = (75.0, 400.0)
"""Fundamental frequencies of adult and children's speaking voices."""


@dataclass(frozen=True)
class FrameFeatures:
    level_dbfs: np.ndarray
    """RMS level of each frame."""
    zero_crossing_rate: np.ndarray
    """Sign changes per sample, 0 to 1: ~0.02-0.1 for vowels, ~0.5 for white noise, more for hiss."""
    spectral_flatness: np.ndarray
    """Geometric over arithmetic mean of the power spectrum in SPEECH_BAND_HZ, 0 to 1: near 0 for a few
    strong harmonics, ~0.56 for white noise (e^-gamma: a noise periodogram's bins are exponentially distributed)."""
    periodicity: np.ndarray
    """Peak normalised autocorrelation at lags in PITCH_RANGE_HZ, 0 to 1: ~1 for a steady pitch."""
    hop_seconds: float

    @property
    def count(self) -> int:
        return self.level_dbfs.size


def frame_features(mono: np.ndarray, rate: int) -> FrameFeatures:
    frame = round(FRAME_SECONDS * rate)
    hop = round(HOP_SECONDS * rate)
    if mono.size < frame:
        mono = np.pad(mono, (0, frame - mono.size))
    frames = sliding_window_view(mono.astype(np.float64), frame)[::hop]
    frames = frames - frames.mean(axis=1, keepdims=True)
    window = np.hanning(frame)
    return FrameFeatures(
        level_dbfs=to_dbfs(np.mean(frames**2, axis=1)),
        zero_crossing_rate=np.mean(np.signbit(frames[:, 1:]) != np.signbit(frames[:, :-1]), axis=1),
        spectral_flatness=_spectral_flatness(frames * window, rate),
        periodicity=_periodicity(frames * window, window, rate),
        hop_seconds=hop / rate,
    )


def _spectral_flatness(windowed: np.ndarray, rate: int) -> np.ndarray:
    power = np.abs(np.fft.rfft(windowed, axis=1)) ** 2
    frequencies = np.fft.rfftfreq(windowed.shape[1], 1 / rate)
    band = power[:, (frequencies >= SPEECH_BAND_HZ[0]) & (frequencies <= SPEECH_BAND_HZ[1])] + 1e-20
    return np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1)


def _periodicity(windowed: np.ndarray, window: np.ndarray, rate: int) -> np.ndarray:
    """Boersma's (1993) autocorrelation: the frame's, normalised, divided by the window's own."""
    size = 2 * windowed.shape[1]
    autocorrelation = np.fft.irfft(np.abs(np.fft.rfft(windowed, size, axis=1)) ** 2, size, axis=1)
    of_window = np.fft.irfft(np.abs(np.fft.rfft(window, size)) ** 2, size)
    shortest, longest = round(rate / PITCH_RANGE_HZ[1]), round(rate / PITCH_RANGE_HZ[0])
    lags = slice(shortest, longest + 1)
    energy = np.maximum(autocorrelation[:, :1], 1e-20)
    normalised = autocorrelation[:, lags] / energy / (of_window[lags] / of_window[0])
    return np.clip(normalised.max(axis=1), 0.0, 1.0)
