"""The embedded default: espeak-ng speech moved toward each voice sample with the WORLD vocoder.

Not a clone. From the sample it measures the median pitch and its spread, the speaking rate and the
average spectral envelope; espeak-ng says the line at that rate (with its female variant for voices above
165 Hz), and WORLD moves the pitch contour to the sample's median and spread and warps the spectral
envelope along frequency by the factor that best lines its formants up with the sample's (vocal-tract
length). Timbre beyond that, accent and expression stay espeak-ng's.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from reelserve.media.resample import resample_mono
from reelserve.speech import espeak
from reelserve.speech.backends.base import LineToSpeak, SpeechInterrupted, StopCheck
from reelserve.speech.profile import ENVELOPE_GRID_HZ, ProfileCache, VoiceProfile
from reelserve.speech.waves import SAMPLE_RATE, trim_silence
from reelserve.speech.world import WorldFeatures, analyse, mean_log_envelope, retime, synthesise, warp_envelope

log = logging.getLogger(__name__)

FEMALE_ABOVE_HZ = 165.0
SYLLABLES_PER_WORD = 1.45
"""English averages about 1.4-1.5 syllables a word: turns the sample's syllable rate into espeak's words a minute."""
WORDS_PER_MINUTE = (120, 230)
SPREAD_RATIO = (0.5, 2.0)
WARP_FACTORS = np.round(np.arange(0.80, 1.2501, 0.01), 2)


class ApproximateBackend:
    name = "approximate"
    voice_match = "approximate"

    def __init__(self) -> None:
        self.profiles = ProfileCache()

    def start(self) -> None:
        try:
            espeak.require_espeak()
        except Exception as exc:  # the server runs on; each job with lines fails saying this
            log.warning("%s", exc)

    def speak(self, lines: list[LineToSpeak], should_stop: StopCheck) -> list[np.ndarray]:
        spoken = []
        for line in lines:
            if should_stop():
                raise SpeechInterrupted(f"stopped after {len(spoken)} of {len(lines)} lines")
            spoken.append(self.speak_line(line))
        return spoken

    def speak_line(self, line: LineToSpeak) -> np.ndarray:
        profile = self.profiles.profile(line.voice_sample)
        rate = np.clip(round(profile.syllables_per_second * 60 / SYLLABLES_PER_WORD), *WORDS_PER_MINUTE)
        raw, raw_rate = espeak.speak(line.text, words_per_minute=int(rate), female=profile.median_f0 > FEMALE_ABOVE_HZ)
        features = analyse(resample_mono(trim_silence(raw, raw_rate), raw_rate, SAMPLE_RATE), SAMPLE_RATE)
        features = toward(features, profile)
        if features.seconds > line.max_seconds:
            features = retime(features, line.max_seconds / features.seconds)
        return trim_silence(synthesise(features), SAMPLE_RATE)

    def close(self) -> None:
        pass


def toward(features: WorldFeatures, profile: VoiceProfile) -> WorldFeatures:
    """`features` with the pitch level and spread of `profile`, and its envelope warped toward the sample's."""
    voiced = features.f0 > 0
    if voiced.sum() < 3:
        return features
    log_f0 = np.log2(features.f0[voiced])
    centre = np.median(log_f0)
    spread = float(np.std(log_f0))
    ratio = float(np.clip(profile.f0_spread / spread, *SPREAD_RATIO)) if spread > 1e-6 else 1.0
    f0 = features.f0.copy()
    f0[voiced] = 2 ** (np.log2(profile.median_f0) + (log_f0 - centre) * ratio)
    source_envelope = mean_log_envelope(features, ENVELOPE_GRID_HZ)
    factor = best_warp(source_envelope, profile.envelope) if source_envelope is not None else 1.0
    return warp_envelope(replace(features, f0=f0), factor)


def best_warp(source: np.ndarray, target: np.ndarray) -> float:
    """The frequency scale of `source` whose formant pattern correlates best with `target`'s (tilt removed)."""
    wanted = _detrended(target)
    best, best_score = 1.0, -np.inf
    for factor in WARP_FACTORS:
        warped = np.interp(ENVELOPE_GRID_HZ / factor, ENVELOPE_GRID_HZ, source)
        score = float(np.corrcoef(_detrended(warped), wanted)[0, 1])
        if score > best_score:
            best, best_score = float(factor), score
    return best


def _detrended(envelope: np.ndarray) -> np.ndarray:
    slope, intercept = np.polyfit(ENVELOPE_GRID_HZ, envelope, 1)
    return envelope - (slope * ENVELOPE_GRID_HZ + intercept)
