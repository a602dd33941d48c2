"""Small waveform helpers of the speech stage: reading stored voice samples, trimming silence, fitting a
line into its window."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 24_000
"""The speech track's rate: the stored voices' rate, and the models' (VibeVoice, Pocket TTS)."""

_TRIM_FRAME_SECONDS = 0.01
_TRIM_BELOW_PEAK_DB = 45.0


def read_wav_mono(source: Path | bytes) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV (the stored voice samples; espeak-ng's output) as mono float32 and its rate."""
    with wave.open(io.BytesIO(source) if isinstance(source, bytes) else str(source)) as handle:
        channels, width, rate = handle.getnchannels(), handle.getsampwidth(), handle.getframerate()
        data = handle.readframes(handle.getnframes())
    if width != 2:
        raise ValueError(f"expected 16-bit PCM, got {8 * width}-bit samples")
    samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels).mean(axis=1), rate


def trim_silence(signal: np.ndarray, rate: int) -> np.ndarray:
    """`signal` without the silence before its first and after its last sounding 10 ms."""
    frame = max(1, round(_TRIM_FRAME_SECONDS * rate))
    count = signal.size // frame
    if count == 0:
        return signal
    power = (signal[: count * frame].astype(np.float64).reshape(count, frame) ** 2).mean(axis=1)
    loud = np.flatnonzero(power > power.max() * 10 ** (-_TRIM_BELOW_PEAK_DB / 10))
    if loud.size == 0:
        return signal[:0]
    return signal[loud[0] * frame : min(signal.size, (loud[-1] + 1) * frame)]


def fade_edges(signal: np.ndarray, rate: int, seconds: float = 0.01) -> np.ndarray:
    count = min(signal.size // 2, round(seconds * rate))
    if count == 0:
        return signal
    out = signal.copy()
    ramp = np.linspace(0.0, 1.0, count, dtype=np.float32)
    out[:count] *= ramp
    out[-count:] *= ramp[::-1]
    return out
