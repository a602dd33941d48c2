"""Test audio made on the spot: speech-like voices, noise, silence and tones, encoded with PyAV.

Signals are float arrays shaped (samples, channels) in [-1, 1]. The voice is a sum of harmonics of a
jittery, drifting pitch, shaped by vowel-like formants and cut into ~4 Hz syllables with fricative
onsets and short pauses, which is what the voice checks look for in real speech.
"""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np

CONTAINERS = ("wav", "mp3", "m4a", "mp4", "mov")
# Rates people's files come in: phones record AAC at 48 kHz, MP3s are mostly 44.1 kHz.
CONTAINER_SAMPLE_RATES = {"wav": 44_100, "mp3": 44_100, "m4a": 48_000, "mp4": 48_000, "mov": 48_000}

# (F1, F2, F3) in Hz of a few vowels, and their bandwidths.
_VOWEL_FORMANTS = ((730, 1090, 2440), (270, 2290, 3010), (530, 1840, 2480), (570, 840, 2410), (300, 870, 2240))
_FORMANT_BANDWIDTHS = (90.0, 110.0, 170.0)


def voice(seconds: float, rate: int = 48_000, *, pitch_hz: float = 130.0, seed: int = 1) -> np.ndarray:
    """Speech-like mono audio peaking at -6 dBFS, over a -70 dBFS microphone noise floor."""
    rng = np.random.default_rng(seed)
    count = round(seconds * rate)
    time = np.arange(count) / rate
    pitch = _pitch_contour(time, pitch_hz, rng)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    syllables = _syllables(seconds, rng)
    envelope = np.zeros(count)
    voiced = np.zeros(count)
    for start, length, vowel in syllables:
        begin, end = round(start * rate), min(count, round((start + length) * rate))
        if end <= begin:
            continue
        envelope[begin:end] = np.hanning(end - begin) ** 0.7
        voiced[begin:end] = _vowel(phase[begin:end], pitch[begin:end].mean(), _VOWEL_FORMANTS[vowel], rate)
    speech = voiced * envelope
    speech += _fricatives(syllables, count, rate, rng)
    speech *= 0.5 / np.max(np.abs(speech))
    speech += rng.normal(0.0, 10 ** (-70 / 20), count)
    return speech[:, None].astype(np.float32)


def white_noise(seconds: float, rate: int = 48_000, *, level_dbfs: float = -20.0, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(0.0, 10 ** (level_dbfs / 20), round(seconds * rate)))[:, None].astype(np.float32)


def pink_noise(seconds: float, rate: int = 48_000, *, level_dbfs: float = -20.0, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    count = round(seconds * rate)
    spectrum = np.fft.rfft(rng.normal(size=count))
    frequencies = np.fft.rfftfreq(count, 1 / rate)
    spectrum[1:] /= np.sqrt(frequencies[1:])
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, count)
    noise *= 10 ** (level_dbfs / 20) / np.sqrt(np.mean(noise**2))
    return noise[:, None].astype(np.float32)


def noise_bursts(seconds: float, rate: int = 48_000, *, seed: int = 4) -> np.ndarray:
    """White noise switched on and off at syllable rate: loud enough to pass for speech by energy alone."""
    noise = white_noise(seconds, rate, level_dbfs=-18.0, seed=seed)[:, 0]
    time = np.arange(noise.size) / rate
    gate = np.clip(np.sin(2 * np.pi * 3.0 * time) * 2, 0, 1)
    floor = white_noise(seconds, rate, level_dbfs=-70.0, seed=seed + 1)[:, 0]
    return (noise * gate + floor)[:, None].astype(np.float32)


def silence(seconds: float, rate: int = 48_000, *, seed: int = 5) -> np.ndarray:
    """A muted microphone: noise at -80 dBFS RMS."""
    return white_noise(seconds, rate, level_dbfs=-80.0, seed=seed)


def clipped_tone(seconds: float, rate: int = 48_000, *, hz: float = 220.0, overdrive: float = 4.0) -> np.ndarray:
    time = np.arange(round(seconds * rate)) / rate
    return np.clip(overdrive * np.sin(2 * np.pi * hz * time), -1, 1)[:, None].astype(np.float32)


def clipped_voice(seconds: float, rate: int = 48_000, *, overdrive: float = 8.0) -> np.ndarray:
    return np.clip(voice(seconds, rate) * overdrive, -1, 1)


def with_noise(signal: np.ndarray, snr_db: float, *, seed: int = 6) -> np.ndarray:
    """`signal` plus white noise `snr_db` below the signal's level while it sounds (its loud half)."""
    rng = np.random.default_rng(seed)
    power = signal.astype(np.float64) ** 2
    sounding = power[power >= np.median(power)]
    noise_rms = np.sqrt(sounding.mean() / 10 ** (snr_db / 10))
    return (signal + rng.normal(0.0, noise_rms, signal.shape)).astype(np.float32)


def stereo(signal: np.ndarray) -> np.ndarray:
    return np.repeat(signal[:, :1], 2, axis=1)


def encode(signal: np.ndarray, rate: int, container: str, *, codec: str | None = None) -> bytes:
    """`signal` as a file of `container`: WAV (16-bit PCM), MP3, M4A (AAC), or MP4 / MOV with a video track
    and AAC audio; `codec` picks another audio codec."""
    buffer = io.BytesIO()
    muxer = {"m4a": "ipod"}.get(container, container)
    codec = codec or {"wav": "pcm_s16le", "mp3": "libmp3lame"}.get(container, "aac")
    layout = "mono" if signal.shape[1] == 1 else "stereo"
    with av.open(buffer, "w", format=muxer) as output:
        # Every stream is added before the first packet is written: that is when the header goes out.
        video = _video_stream(output) if container in ("mp4", "mov") else None
        audio = output.add_stream(codec, rate=rate, layout=layout)
        if video is not None:
            _write_video(output, video)
        _write_audio(output, audio, signal, rate, layout)
    return buffer.getvalue()


def video_without_audio(container: str = "mp4") -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        _write_video(output, _video_stream(output))
    return buffer.getvalue()


def _pitch_contour(time: np.ndarray, pitch_hz: float, rng: np.random.Generator) -> np.ndarray:
    intonation = 1 + 0.12 * np.sin(2 * np.pi * 0.35 * time + rng.uniform(0, 2 * np.pi))
    # Jitter: a random walk in pitch, refreshed every 5 ms, about 1.5% deep.
    steps = rng.normal(0.0, 0.015, int(time[-1] / 0.005) + 2)
    jitter = np.interp(time, np.arange(steps.size) * 0.005, steps)
    return pitch_hz * intonation * (1 + jitter)


def _syllables(seconds: float, rng: np.random.Generator) -> list[tuple[float, float, int]]:
    """(start s, length s, vowel index) of syllables at ~4 per second, with a pause every few of them."""
    syllables = []
    at = 0.15
    while at < seconds - 0.1:
        length = rng.uniform(0.16, 0.28)
        syllables.append((at, min(length, seconds - at), int(rng.integers(len(_VOWEL_FORMANTS)))))
        at += length + rng.uniform(0.02, 0.06)
        if rng.random() < 0.2:
            at += rng.uniform(0.15, 0.35)
    return syllables


def _vowel(phase: np.ndarray, pitch_hz: float, formants: tuple[int, int, int], rate: int) -> np.ndarray:
    harmonics = np.arange(1, int(min(5000.0, rate / 2 - 200) / pitch_hz) + 1)
    frequencies = harmonics * pitch_hz
    # Glottal source falling 12 dB/octave, plus 6 dB/octave from the lips; formant peaks on top.
    gains = 1 / harmonics
    peaks = sum(
        1 / np.sqrt(1 + ((frequencies - centre) / width) ** 2)
        for centre, width in zip(formants, _FORMANT_BANDWIDTHS, strict=True)
    )
    gains = gains * (0.05 + peaks)
    return np.sin(np.outer(phase, harmonics)) @ gains


def _fricatives(
    syllables: list[tuple[float, float, int]], count: int, rate: int, rng: np.random.Generator
) -> np.ndarray:
    """Hissy consonants (white noise tilted upwards) just before every other syllable."""
    out = np.zeros(count)
    for start, _, _ in syllables[::2]:
        begin, end = round((start - 0.06) * rate), round(start * rate)
        if begin < 0:
            continue
        hiss = np.diff(rng.normal(size=end - begin + 1))
        out[begin:end] = 0.25 * hiss * np.hanning(end - begin)
    return out


def _write_audio(
    output: av.container.OutputContainer, stream: av.AudioStream, signal: np.ndarray, rate: int, layout: str
) -> None:
    pcm = np.round(np.clip(signal, -1, 1) * 32767).astype(np.int16)
    chunk = 4096
    for start in range(0, pcm.shape[0], chunk):
        piece = np.ascontiguousarray(pcm[start : start + chunk])
        frame = av.AudioFrame.from_ndarray(piece.reshape(1, -1), format="s16", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        output.mux(stream.encode(frame))
    output.mux(stream.encode(None))


def _video_stream(output: av.container.OutputContainer) -> av.VideoStream:
    stream = output.add_stream("libx264", rate=1)
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    return stream


def _write_video(output: av.container.OutputContainer, stream: av.VideoStream) -> None:
    """A few tiny frames: the container is a video, but the audio is what is tested."""
    for index in range(3):
        frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 60 * index, np.uint8), format="rgb24")
        frame.pts = index
        output.mux(stream.encode(frame))
    output.mux(stream.encode(None))
