"""The speech stage: a Script, the voice samples and the video's length in, one audio track out.

Each line is spoken by the route's backend, trimmed of silence, brought to speech level, made to fit its
window (sped up with the WORLD vocoder, pitch kept, when it runs long) and placed where the script puts
it. Where the engine made sound of its own, that sound is ducked under the speech and mixed with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelserve.media.audio_levels import PEAK_CEILING_DBFS, TARGET_SPEECH_LEVEL_DBFS, loudness_normalise
from reelserve.speech.backends.base import LineToSpeak, SpeechBackend, SpeechError, StopCheck
from reelserve.speech.mix import mix_under_speech
from reelserve.speech.script import Line, Script
from reelserve.speech.waves import SAMPLE_RATE, fade_edges, trim_silence
from reelserve.speech.world import analyse, retime, synthesise


@dataclass(frozen=True)
class Track:
    samples: np.ndarray
    """float32 (samples, channels) in [-1, 1], as long as the video."""
    rate: int


def speech_track(
    script: Script,
    voice_samples: list[Path],
    seconds: float,
    backend: SpeechBackend,
    should_stop: StopCheck,
    engine_audio: np.ndarray | None = None,
    engine_rate: int | None = None,
) -> Track:
    """The video's audio: the script's lines spoken in their voices, over the engine's sound if it made some."""
    if len(voice_samples) < script.voices:
        raise SpeechError(f"the script has {script.voices} voices but {len(voice_samples)} samples are stored")
    requests = [
        LineToSpeak(line.text, voice_samples[line.voice - 1], max(0.1, line.end - line.start))
        for line in script.lines
    ]
    spoken = backend.speak(requests, should_stop) if requests else []
    if len(spoken) != len(requests):
        raise SpeechError(f"the {backend.name} backend returned {len(spoken)} lines for {len(requests)}")
    speech = np.zeros(round(seconds * SAMPLE_RATE), np.float32)
    for line, wave in zip(script.lines, spoken, strict=True):
        _place(speech, line, _fitted(np.asarray(wave, np.float32).reshape(-1), line.end - line.start))
    if engine_audio is not None and engine_rate:
        return Track(mix_under_speech(speech, SAMPLE_RATE, engine_audio, engine_rate), engine_rate)
    return Track(speech[:, None], SAMPLE_RATE)


def _fitted(wave: np.ndarray, window: float) -> np.ndarray:
    wave = trim_silence(np.nan_to_num(wave), SAMPLE_RATE)
    if wave.size == 0:
        return wave
    if wave.size > window * SAMPLE_RATE:
        features = analyse(wave, SAMPLE_RATE)
        wave = synthesise(retime(features, window * SAMPLE_RATE / wave.size))
    limit = int(window * SAMPLE_RATE)
    level = loudness_normalise(wave[:limit], SAMPLE_RATE, TARGET_SPEECH_LEVEL_DBFS, PEAK_CEILING_DBFS)
    return fade_edges(level.astype(np.float32), SAMPLE_RATE) if level is not None else wave[:0]


def _place(track: np.ndarray, line: Line, wave: np.ndarray) -> None:
    start = round(line.start * SAMPLE_RATE)
    end = min(track.size, start + wave.size)
    if end > start:
        track[start:end] += wave[: end - start]
