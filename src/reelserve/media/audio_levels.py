"""Levels of a voice recording, and bringing one to a set loudness under a peak ceiling.

Levels are in dBFS of RMS: a full-scale square wave is 0 dBFS, a full-scale sine -3 dBFS.
"""

from __future__ import annotations

import numpy as np

TARGET_SPEECH_LEVEL_DBFS = -20.0
"""Stored voices speak at -20 dBFS (gated level, below): the reference level voice-cloning models are
fed at (F5-TTS scales quieter references up to an RMS of 0.1, i.e. -20 dBFS), and 19 dB under the peak
ceiling, which is about speech's crest factor, so the limiter touches only the odd plosive."""

PEAK_CEILING_DBFS = -1.0
"""No sample of a stored voice goes above -1 dBFS: the usual headroom for later lossy encoding (an
AAC or MP3 decoder's output overshoots the input's peaks by a fraction of a dB)."""

FLOOR_DBFS = -120.0
"""The quietest level reported; digital silence reads as this rather than minus infinity."""

# Gating as in ITU-R BS.1770 integrated loudness, without the K-weighting filter: 400 ms blocks every
# 100 ms; blocks under -70 dBFS, then blocks 10 dB under the level of the rest, are pauses and left out.
_BLOCK_SECONDS = 0.4
_BLOCK_HOP_SECONDS = 0.1
_ABSOLUTE_GATE_DBFS = -70.0
_RELATIVE_GATE_DB = -10.0

_LIMITER_WINDOW_SECONDS = 0.01
_NORMALISE_ROUNDS = 4
_NORMALISE_TOLERANCE_DB = 0.05


def to_dbfs(power: float | np.ndarray) -> float | np.ndarray:
    """10 log10 of a mean square, floored at FLOOR_DBFS."""
    return np.maximum(10 * np.log10(np.maximum(power, 1e-30)), FLOOR_DBFS)


def peak_dbfs(samples: np.ndarray) -> float:
    return float(to_dbfs(float(np.max(np.abs(samples), initial=0.0)) ** 2))


def gated_level_dbfs(mono: np.ndarray, rate: int) -> float | None:
    """The level of the sounding part of `mono` (its pauses gated out); None if nothing rises above the gate."""
    block = min(mono.size, round(_BLOCK_SECONDS * rate))
    if block == 0:
        return None
    hop = round(_BLOCK_HOP_SECONDS * rate)
    squares = np.concatenate([[0.0], np.cumsum(mono.astype(np.float64) ** 2)])
    starts = np.arange(0, mono.size - block + 1, hop)
    powers = (squares[starts + block] - squares[starts]) / block
    powers = powers[to_dbfs(powers) > _ABSOLUTE_GATE_DBFS]
    if powers.size == 0:
        return None
    relative_gate = to_dbfs(powers.mean()) + _RELATIVE_GATE_DB
    return float(to_dbfs(powers[to_dbfs(powers) > relative_gate].mean()))


def loudness_normalise(mono: np.ndarray, rate: int, target_dbfs: float, ceiling_dbfs: float) -> np.ndarray | None:
    """`mono` brought to `target_dbfs` gated level, peaks limited to `ceiling_dbfs`; None if it is silent.

    Limiting lowers the level a little, so the gain is corrected and the limiter run again (a few rounds
    at most; the limiter works on the original each time, so nothing is limited twice)."""
    level = gated_level_dbfs(mono, rate)
    if level is None:
        return None
    ceiling = 10 ** (ceiling_dbfs / 20)
    gain_db = target_dbfs - level
    result = mono
    for _ in range(_NORMALISE_ROUNDS):
        result = limit_peaks(mono * 10 ** (gain_db / 20), rate, ceiling)
        reached = gated_level_dbfs(result, rate)
        if reached is None or abs(reached - target_dbfs) <= _NORMALISE_TOLERANCE_DB:
            break
        gain_db += target_dbfs - reached
    return result


def limit_peaks(signal: np.ndarray, rate: int, ceiling: float) -> np.ndarray:
    """`signal` with every sample within ±`ceiling`, by a smooth look-ahead gain rather than clipping.

    The gain each sample needs is taken as the minimum over a window either side (so the gain is down
    before a peak arrives and stays down through it), then smoothed by a moving average about half as wide,
    which never rises above the needed gain because every average only covers samples whose window
    included the peak."""
    magnitude = np.abs(signal)
    if magnitude.max(initial=0.0) <= ceiling:
        return signal.copy()
    width = max(1, round(_LIMITER_WINDOW_SECONDS * rate))
    needed = np.minimum(1.0, ceiling / np.maximum(magnitude, 1e-12))
    held = _running_min(needed, 2 * width + 1)
    # Averaging the reduction (0 away from peaks) rather than the gain keeps untouched samples bit-exact.
    gain = 1.0 - _moving_average(1.0 - held, 2 * (width // 2) + 1)
    return np.clip(signal * gain, -ceiling, ceiling)


def _running_min(values: np.ndarray, width: int) -> np.ndarray:
    """Minimum over a centred window of odd `width` (van Herk / Gil-Werman: O(n) whatever the width)."""
    half = width // 2
    padded = np.pad(values, (half, half + (-(values.size + 2 * half) % width)), constant_values=np.inf)
    blocks = padded.reshape(-1, width)
    prefix = np.minimum.accumulate(blocks, axis=1).ravel()
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    # The window starting at i ends at i + width - 1: the suffix of i's block and the prefix of the next.
    starts = np.arange(values.size)
    return np.minimum(suffix[starts], prefix[starts + width - 1])


def _moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """Mean over a centred window of odd `width`, the edges padded with their end values."""
    half = width // 2
    padded = np.pad(values, half, mode="edge")
    sums = np.concatenate([[0.0], np.cumsum(padded)])
    return (sums[width:] - sums[:-width]) / width
