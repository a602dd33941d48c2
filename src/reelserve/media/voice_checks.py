"""Whether a decoded recording is one clean voice that a voice-cloning model can learn from.

Plain signal processing on frame measurements (see voice_features): a frame is *voiced* when it is
well above the noise floor, periodic at a speaking pitch, harmonic rather than noise-like (low spectral
flatness) and not hiss (low zero-crossing rate). *Speech* is the voiced frames plus the consonants and
short gaps around them. The rules and their thresholds are below and in docs/voices.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reelserve.errors import InputError
from reelserve.media.audio import DecodedAudio
from reelserve.media.audio_levels import FLOOR_DBFS, gated_level_dbfs, peak_dbfs, to_dbfs
from reelserve.media.voice_features import FrameFeatures, frame_features

# The rules.
MIN_DURATION_SECONDS = 5.0
"""Shorter samples hold too few syllables to capture a voice's pitch range and timbre (the seed's rule)."""
MAX_DURATION_SECONDS = 30.0
"""Longer samples add little for cloning and cost storage and conditioning time (the seed's rule)."""
MIN_PEAK_DBFS = -45.0
"""A recording whose loudest sample stays below -45 dBFS (0.56% of full scale) is a muted or
unplugged microphone; a real voice, even recorded quietly, peaks tens of dB higher."""
MIN_SPEECH_FRACTION = 0.5
"""At least half of the sample must be speech, so that it is mostly voice rather than silence, music
or noise. Continuous reading measures 90% or more; long leading or trailing silence counts against it."""
CLIPPED_SAMPLE_LEVEL = 0.999
"""A sample this close to full scale (or over it: lossy decoders overshoot clipped input) is clipped."""
MAX_CLIPPED_FRACTION = 0.001
"""At most 0.1% of samples may be clipped: a few touched peaks are inaudible, but clipping beyond
that is audible distortion that a cloned voice would reproduce."""
MIN_SNR_DB = 15.0
"""Speech must be at least 15 dB above the noise floor; below that, a cloned voice reproduces the
room noise or hiss along with the voice."""

# How frames are classified; documented with the rules because they decide what "voiced" means.
VOICED_MIN_ABOVE_FLOOR_DB = 10.0
"""A voiced frame is at least 10 dB above the noise floor..."""
VOICED_MAX_BELOW_LOUDEST_DB = 35.0
"""...no more than 35 dB below the loudest frames (the 95th percentile of frame levels)..."""
VOICED_MIN_PERIODICITY = 0.45
"""...periodic at a speaking pitch (Praat's default voicing threshold for normalised autocorrelation)..."""
VOICED_MAX_FLATNESS = 0.35
"""...harmonic rather than noise-like (white noise has a spectral flatness of about 0.56)..."""
VOICED_MAX_ZERO_CROSSING_RATE = 0.25
"""...and not hiss (at 24 kHz, 0.25 crossings per sample is a dominant frequency of 3 kHz)."""
SPEECH_HANGOVER_SECONDS = 0.2
"""Speech runs from 0.2 s before the first voiced frame of a stretch to 0.2 s after its last: that
takes in consonants and joins syllables and words separated by gaps of up to 0.4 s."""
NOISE_FLOOR_PERCENTILE = 10.0
"""The noise floor is the 10th percentile of frame levels: of all frames at first, then of the frames
that are not voiced, so that fast speech with few pauses does not pass its quiet syllables for noise."""
NOISE_FLOOR_MIN_FRAMES = 10
"""Fewer unvoiced frames than this is too few for a percentile; the first estimate stands."""

_SNR_CAP_DB = 100.0


@dataclass
class VoiceReport:
    duration_seconds: float
    peak_dbfs: float
    speech_level_dbfs: float
    """Gated (BS.1770-style, unweighted) level of the sounding part; FLOOR_DBFS if nothing sounds."""
    voiced_fraction: float
    speech_fraction: float
    clipped_fraction: float
    noise_floor_dbfs: float
    snr_db: float
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.problems


def check_voice(audio: DecodedAudio) -> VoiceReport:
    """Measure `audio` and list every rule it breaks (none for a usable voice)."""
    mono = audio.mono()
    features = frame_features(mono, audio.sample_rate)
    voiced, noise_floor = _voiced_frames(features)
    speech = _widen(voiced, round(SPEECH_HANGOVER_SECONDS / features.hop_seconds))
    report = VoiceReport(
        duration_seconds=audio.duration_seconds,
        peak_dbfs=peak_dbfs(audio.samples),
        speech_level_dbfs=_or_floor(gated_level_dbfs(mono, audio.sample_rate)),
        voiced_fraction=float(voiced.mean()),
        speech_fraction=float(speech.mean()),
        clipped_fraction=float(np.mean(np.abs(audio.samples) >= CLIPPED_SAMPLE_LEVEL)),
        noise_floor_dbfs=noise_floor,
        snr_db=_snr_db(features.level_dbfs, voiced, noise_floor),
    )
    report.problems = _problems(report)
    return report


def require_usable_voice(report: VoiceReport) -> None:
    """Raise InputError (param "audio") naming every broken rule and what was measured."""
    if report.problems:
        raise InputError("; also, ".join(report.problems), param="audio")


def _problems(report: VoiceReport) -> list[str]:
    problems = []
    if not MIN_DURATION_SECONDS <= report.duration_seconds <= MAX_DURATION_SECONDS:
        problems.append(
            f"audio is {report.duration_seconds:.1f} s long; "
            f"a voice needs {MIN_DURATION_SECONDS:g} to {MAX_DURATION_SECONDS:g} s"
        )
    if report.peak_dbfs < MIN_PEAK_DBFS:
        level = "below " if report.peak_dbfs <= FLOOR_DBFS else ""
        problems.append(
            f"audio is silent (peak {level}{report.peak_dbfs:.0f} dBFS; a voice peaks above {MIN_PEAK_DBFS:g} dBFS)"
        )
        return problems  # nothing else can be judged in silence
    if report.speech_fraction < MIN_SPEECH_FRACTION:
        problems.append(
            f"only {_percent(report.speech_fraction)} of the audio is speech; "
            f"a voice sample needs at least {_percent(MIN_SPEECH_FRACTION)} speech"
        )
    if report.clipped_fraction > MAX_CLIPPED_FRACTION:
        problems.append(
            f"audio is clipped: {_percent(report.clipped_fraction)} of samples at full scale; "
            f"at most {_percent(MAX_CLIPPED_FRACTION)} allowed"
        )
    if report.snr_db < MIN_SNR_DB:
        problems.append(f"signal-to-noise ratio is {report.snr_db:.0f} dB; at least {MIN_SNR_DB:g} dB needed")
    return problems


def _voiced_frames(features: FrameFeatures) -> tuple[np.ndarray, float]:
    """Which frames are voiced, and the noise floor in dBFS."""
    levels = features.level_dbfs
    voice_like = (
        (features.periodicity >= VOICED_MIN_PERIODICITY)
        & (features.spectral_flatness <= VOICED_MAX_FLATNESS)
        & (features.zero_crossing_rate <= VOICED_MAX_ZERO_CROSSING_RATE)
    )
    loudest = float(np.percentile(levels, 95))
    floor = float(np.percentile(levels, NOISE_FLOOR_PERCENTILE))
    voiced = voice_like & _loud_enough(levels, floor, loudest)
    unvoiced_levels = levels[~voiced]
    if unvoiced_levels.size >= NOISE_FLOOR_MIN_FRAMES:
        floor = min(floor, float(np.percentile(unvoiced_levels, NOISE_FLOOR_PERCENTILE)))
        voiced = voice_like & _loud_enough(levels, floor, loudest)
    return voiced, floor


def _loud_enough(levels: np.ndarray, floor: float, loudest: float) -> np.ndarray:
    return levels >= max(floor + VOICED_MIN_ABOVE_FLOOR_DB, loudest - VOICED_MAX_BELOW_LOUDEST_DB)


def _snr_db(levels: np.ndarray, voiced: np.ndarray, noise_floor: float) -> float:
    """Voiced frames' power (less the noise they carry) over the noise floor, from 0 to _SNR_CAP_DB;
    without voiced frames, the loudest frames stand in for the signal."""
    signal = np.mean(10 ** (levels[voiced] / 10)) if voiced.any() else 10 ** (np.percentile(levels, 95) / 10)
    noise = 10 ** (noise_floor / 10)
    return float(np.clip(to_dbfs(max(signal - noise, 0.0)) - noise_floor, 0.0, _SNR_CAP_DB))


def _or_floor(level: float | None) -> float:
    return FLOOR_DBFS if level is None else level


def _widen(mask: np.ndarray, frames: int) -> np.ndarray:
    """`mask` with every true run extended by `frames` on both sides."""
    if frames <= 0 or not mask.any():
        return mask.copy()
    counts = np.concatenate([[0], np.cumsum(mask)])
    index = np.arange(mask.size)
    low, high = np.maximum(index - frames, 0), np.minimum(index + frames + 1, mask.size)
    return counts[high] > counts[low]


def _percent(fraction: float) -> str:
    """0.18 -> '18%', 0.041 -> '4.1%', 0.001 -> '0.1%'."""
    percent = 100 * fraction
    if percent >= 10 or percent == 0:
        return f"{percent:.0f}%"
    return f"{percent:.2g}%" if percent < 1 else f"{percent:.1f}%"
