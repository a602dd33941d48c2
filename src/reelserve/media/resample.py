"""Changing the sample rate of a mono float signal with FFmpeg's resampler (libswresample, through PyAV)."""

from __future__ import annotations

import av
import numpy as np


def resample_mono(signal: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """`signal` (1-D float) at `to_rate`, as float32, its length scaled exactly by the ratio of the rates."""
    mono = np.ascontiguousarray(signal, dtype=np.float32).reshape(-1)
    if from_rate == to_rate or mono.size == 0:
        return mono.copy()
    resampler = av.AudioResampler(format="flt", layout="mono", rate=to_rate)
    frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = from_rate
    pieces = [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    out = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    wanted = round(mono.size * to_rate / from_rate)
    if out.size < wanted:
        out = np.concatenate([out, np.zeros(wanted - out.size, np.float32)])
    return out[:wanted].astype(np.float32)
