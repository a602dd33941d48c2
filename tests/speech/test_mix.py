"""Mixing speech with the engine's own sound: the sound ducks under the speech and comes back after it."""

from __future__ import annotations

import numpy as np
import pytest

from reelserve.speech.mix import DUCK_DB, mix_under_speech
from tests.support import audio


def level_db(signal: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(signal.astype(np.float64) ** 2)))


def test_ambience_ducks_under_speech_and_returns_after() -> None:
    rate, speech_rate = 48_000, 24_000
    ambience = audio.stereo(audio.pink_noise(6, rate, level_dbfs=-30.0))
    speech = np.zeros(6 * speech_rate, np.float32)
    speech[2 * speech_rate : 4 * speech_rate] = audio.voice(2, speech_rate, pitch_hz=120)[:, 0]
    mixed = mix_under_speech(speech, speech_rate, ambience, rate)
    assert mixed.shape == ambience.shape and mixed.dtype == np.float32
    before = level_db(mixed[: rate, 0])
    assert before == pytest.approx(level_db(ambience[:rate, 0]), abs=0.1), "untouched away from speech"
    # While the voice speaks, the ambience (the mix less the voice alone) sits DUCK_DB lower.
    residual = mixed[:, 0] - mix_under_speech(speech, speech_rate, np.zeros_like(ambience), rate)[:, 0]
    assert level_db(residual[round(2.5 * rate) : round(3.5 * rate)]) == pytest.approx(before + DUCK_DB, abs=1.0)
    tail = slice(round(5.2 * rate), None)
    assert level_db(mixed[tail, 0]) == pytest.approx(level_db(ambience[tail, 0]), abs=0.3), "back after the release"
    assert np.max(np.abs(mixed)) <= 10 ** (-1 / 20) + 1e-6
