"""Mixing the speech track with the engine's own sound (LTX-2's ambience), ducked under the speech."""

from __future__ import annotations

import numpy as np

from reelserve.media.audio_levels import PEAK_CEILING_DBFS, limit_peaks
from reelserve.media.resample import resample_mono

DUCK_DB = -12.0
"""How far the engine's sound goes down while someone speaks."""
SPEECH_GATE_DBFS = -50.0
_FRAME_SECONDS = 0.01
_ATTACK_SECONDS = 0.05
_RELEASE_SECONDS = 0.3
_HOLD_SECONDS = 0.6
"""The sound stays down through pauses shorter than this (between words, between two lines)."""


def speech_activity(speech: np.ndarray, rate: int) -> np.ndarray:
    """Per sample, 1 where the speech sounds and 0 in its pauses, with a quick attack and a slow release."""
    frame = max(1, round(_FRAME_SECONDS * rate))
    count = -(-speech.size // frame)
    padded = np.pad(speech.astype(np.float64), (0, count * frame - speech.size))
    power = (padded.reshape(count, frame) ** 2).mean(axis=1)
    active = (10 * np.log10(np.maximum(power, 1e-30)) > SPEECH_GATE_DBFS).astype(np.float64)
    smoothed = np.empty(count)
    level = 0.0
    attack = 1 - np.exp(-_FRAME_SECONDS / _ATTACK_SECONDS)
    release = 1 - np.exp(-_FRAME_SECONDS / _RELEASE_SECONDS)
    # Look ahead by the attack time so the sound is already down when the first word starts, and hold it down
    # through short pauses.
    ahead, hold = round(_ATTACK_SECONDS / _FRAME_SECONDS), round(_HOLD_SECONDS / _FRAME_SECONDS)
    padded_active = np.concatenate([np.zeros(hold), active, np.zeros(ahead)])
    windows = np.lib.stride_tricks.sliding_window_view(padded_active, hold + ahead + 1)
    target = windows.max(axis=1)
    for index, value in enumerate(target):
        level += (value - level) * (attack if value > level else release)
        smoothed[index] = level
    return np.repeat(smoothed, frame)[: speech.size]


def mix_under_speech(speech: np.ndarray, speech_rate: int, ambience: np.ndarray, rate: int) -> np.ndarray:
    """`ambience` (samples, channels) at `rate`, ducked by DUCK_DB under `speech` and mixed with it."""
    channels = ambience if ambience.ndim == 2 else ambience[:, None]
    voice = resample_mono(speech, speech_rate, rate)
    length = channels.shape[0]
    voice = np.pad(voice, (0, max(0, length - voice.size)))[:length]
    duck = 1.0 - (1.0 - 10 ** (DUCK_DB / 20)) * speech_activity(voice, rate)
    mixed = channels.astype(np.float64) * duck[:, None] + voice[:, None]
    ceiling = 10 ** (PEAK_CEILING_DBFS / 20)
    limited = np.stack([limit_peaks(mixed[:, index], rate, ceiling) for index in range(mixed.shape[1])], axis=1)
    return limited.astype(np.float32)
