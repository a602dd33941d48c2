"""Speech through the WORLD vocoder (pyworld): analysis into pitch, spectral envelope and aperiodicity,
and the changes the speech stage makes there: pitch, vocal-tract length (frequency warping of the
envelope) and tempo (resampling the frame sequence), before synthesising the waveform again."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyworld

FRAME_PERIOD_MS = 5.0
F0_FLOOR_HZ = 60.0
F0_CEIL_HZ = 600.0


@dataclass(frozen=True)
class WorldFeatures:
    f0: np.ndarray
    """Hz per frame; 0 where unvoiced."""
    envelope: np.ndarray
    """Spectral envelope, (frames, fft_size // 2 + 1), power."""
    aperiodicity: np.ndarray
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.f0) * FRAME_PERIOD_MS / 1000


def analyse(signal: np.ndarray, rate: int) -> WorldFeatures:
    x = np.ascontiguousarray(signal, dtype=np.float64).reshape(-1)
    f0 = pitch_track(x, rate)
    fft_size = pyworld.get_cheaptrick_fft_size(rate, F0_FLOOR_HZ)
    envelope = pyworld.cheaptrick(x, f0, _times(f0), rate, f0_floor=F0_FLOOR_HZ, fft_size=fft_size)
    aperiodicity = pyworld.d4c(x, f0, _times(f0), rate, fft_size=fft_size)
    return WorldFeatures(f0, envelope, aperiodicity, rate)


def pitch_track(signal: np.ndarray, rate: int) -> np.ndarray:
    """F0 per 5 ms frame by DIO refined with StoneMask (WORLD's fast estimator)."""
    x = np.ascontiguousarray(signal, dtype=np.float64).reshape(-1)
    f0, times = pyworld.dio(x, rate, f0_floor=F0_FLOOR_HZ, f0_ceil=F0_CEIL_HZ, frame_period=FRAME_PERIOD_MS)
    return pyworld.stonemask(x, f0, times, rate)


def synthesise(features: WorldFeatures) -> np.ndarray:
    out = pyworld.synthesize(
        np.ascontiguousarray(features.f0),
        np.ascontiguousarray(features.envelope),
        np.ascontiguousarray(features.aperiodicity),
        features.rate,
        FRAME_PERIOD_MS,
    )
    return out.astype(np.float32)


def mean_log_envelope(features: WorldFeatures, grid_hz: np.ndarray) -> np.ndarray | None:
    """The average log envelope of the voiced frames on a frequency grid; None without voiced frames."""
    voiced = features.f0 > 0
    if voiced.sum() < 3:
        return None
    bins = np.linspace(0, features.rate / 2, features.envelope.shape[1])
    mean = np.log(np.maximum(features.envelope[voiced], 1e-16)).mean(axis=0)
    return np.interp(grid_hz, bins, mean)


def warp_envelope(features: WorldFeatures, factor: float) -> WorldFeatures:
    """Envelope moved up in frequency by `factor` (>1: a shorter vocal tract, formants higher)."""
    if abs(factor - 1.0) < 1e-3:
        return features
    bins = np.linspace(0, features.rate / 2, features.envelope.shape[1])
    source = np.minimum(bins / factor, bins[-1])
    log_env = np.log(np.maximum(features.envelope, 1e-16))
    warped = np.empty_like(log_env)
    for index, frame in enumerate(log_env):
        warped[index] = np.interp(source, bins, frame)
    return replace(features, envelope=np.exp(warped))


def retime(features: WorldFeatures, factor: float) -> WorldFeatures:
    """The same speech `factor` times as long (<1 faster), pitch and timbre kept."""
    count = len(features.f0)
    new_count = max(1, round(count * factor))
    if new_count == count:
        return features
    positions = np.linspace(0, count - 1, new_count)
    nearest = np.rint(positions).astype(int)
    below = np.floor(positions).astype(int)
    above = np.minimum(below + 1, count - 1)
    weight = (positions - below)[:, None]
    envelope = features.envelope[below] * (1 - weight) + features.envelope[above] * weight
    aperiodicity = features.aperiodicity[below] * (1 - weight) + features.aperiodicity[above] * weight
    f0 = features.f0[nearest].copy()
    voiced = (features.f0[below] > 0) & (features.f0[above] > 0)
    f0[voiced] = features.f0[below][voiced] * (1 - weight[voiced, 0]) + features.f0[above][voiced] * weight[voiced, 0]
    return WorldFeatures(f0, envelope, aperiodicity, features.rate)


def _times(f0: np.ndarray) -> np.ndarray:
    return np.arange(len(f0)) * FRAME_PERIOD_MS / 1000
