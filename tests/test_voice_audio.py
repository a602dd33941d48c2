"""Custom-voice samples: decoding every container, the voice rules, and the normalised WAV that is kept."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest

from reelserve.errors import InputError
from reelserve.media.audio import WORKING_SAMPLE_RATE, decode_audio, normalise_voice
from reelserve.media.audio_levels import (
    PEAK_CEILING_DBFS,
    TARGET_SPEECH_LEVEL_DBFS,
    gated_level_dbfs,
    limit_peaks,
    peak_dbfs,
)
from reelserve.media.voice_checks import VoiceReport, check_voice, require_usable_voice
from tests.support import audio as synth
from tests.support.timing import collector_paused

SECONDS = 7.0
CONTAINERS = synth.CONTAINERS


@dataclass(frozen=True)
class BadSample:
    make: Callable[[int], np.ndarray]
    problem: str
    """A regular expression for the problem reported, its one group the number measured."""
    measured: Callable[[VoiceReport], float]
    only_problem: bool
    rate: int | None = None
    """A sample rate of its own (else the container's usual one)."""


BAD_SAMPLES = {
    "too_short": BadSample(
        lambda rate: synth.voice(3.0, rate),
        r"audio is (\d+\.\d) s long; a voice needs 5 to 30 s",
        lambda report: report.duration_seconds,
        only_problem=True,
    ),
    "too_long": BadSample(
        lambda rate: synth.voice(35.0, rate, seed=8),
        r"audio is (\d+\.\d) s long; a voice needs 5 to 30 s",
        lambda report: report.duration_seconds,
        only_problem=True,
        rate=16_000,  # the longest signal, at a voice recorder's rate: quick to make and encode
    ),
    "silence": BadSample(
        lambda rate: synth.silence(SECONDS, rate),
        r"audio is silent \(peak (-\d+) dBFS; a voice peaks above -45 dBFS\)",
        lambda report: report.peak_dbfs,
        only_problem=True,
    ),
    "white_noise": BadSample(
        lambda rate: synth.white_noise(SECONDS, rate),
        r"only (\d+)% of the audio is speech; a voice sample needs at least 50% speech",
        lambda report: 100 * report.speech_fraction,
        only_problem=False,
    ),
    "pink_noise": BadSample(
        lambda rate: synth.pink_noise(SECONDS, rate),
        r"only (\d+)% of the audio is speech; a voice sample needs at least 50% speech",
        lambda report: 100 * report.speech_fraction,
        only_problem=False,
    ),
    "noise_bursts": BadSample(
        lambda rate: synth.noise_bursts(SECONDS, rate),
        r"only (\d+)% of the audio is speech; a voice sample needs at least 50% speech",
        lambda report: 100 * report.speech_fraction,
        only_problem=True,
    ),
    "clipped_tone": BadSample(
        lambda rate: synth.clipped_tone(SECONDS, rate),
        r"audio is clipped: (\d+(?:\.\d+)?)% of samples at full scale; at most 0\.1% allowed",
        lambda report: 100 * report.clipped_fraction,
        only_problem=False,
    ),
    "clipped_voice": BadSample(
        lambda rate: synth.clipped_voice(SECONDS, rate),
        r"audio is clipped: (\d+(?:\.\d+)?)% of samples at full scale; at most 0\.1% allowed",
        lambda report: 100 * report.clipped_fraction,
        only_problem=True,
    ),
    "noisy_voice": BadSample(
        lambda rate: synth.with_noise(synth.voice(SECONDS, rate), snr_db=5.0),
        r"signal-to-noise ratio is (\d+) dB; at least 15 dB needed",
        lambda report: report.snr_db,
        only_problem=False,
    ),
}


@cache
def good_voice(rate: int) -> np.ndarray:
    return synth.voice(SECONDS, rate)


@cache
def good_voice_file(container: str) -> bytes:
    rate = synth.CONTAINER_SAMPLE_RATES[container]
    return synth.encode(good_voice(rate), rate, container)


@cache
def bad_signal(name: str, rate: int) -> np.ndarray:
    return BAD_SAMPLES[name].make(rate)


def refusal(data: bytes, **options: float) -> str:
    with pytest.raises(InputError) as raised:
        decode_audio(data, **options)
    assert raised.value.param == "audio"
    return raised.value.message


def decodes_or_is_refused(data: bytes) -> None:
    """The one promise for damaged input: a result, or InputError; never any other exception."""
    try:
        decode_audio(data)
    except InputError as error:
        assert error.param == "audio"


# Decoding


@pytest.mark.parametrize("container", CONTAINERS)
def test_every_container_decodes_to_the_working_rate(container: str) -> None:
    audio = decode_audio(good_voice_file(container))
    assert audio.sample_rate == WORKING_SAMPLE_RATE
    assert audio.samples.dtype == np.float32
    assert audio.samples.shape[1] == audio.channels == 1
    assert audio.duration_seconds == pytest.approx(SECONDS, abs=0.06)
    assert audio.container == container
    assert audio.codec == {"wav": "pcm_s16le", "mp3": "mp3float"}.get(container, "aac")
    assert audio.source_sample_rate == synth.CONTAINER_SAMPLE_RATES[container]
    assert audio.source_channels == 1
    assert np.max(np.abs(audio.samples)) == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize(
    ("rate", "container", "codec"),
    [
        (8_000, "wav", None),
        (16_000, "wav", None),
        (22_050, "wav", "pcm_s24le"),
        (44_100, "wav", "pcm_f32le"),
        (96_000, "wav", None),
        (16_000, "mp3", None),
        (24_000, "m4a", None),
        (48_000, "m4a", "alac"),
        (48_000, "mov", "pcm_s16le"),
    ],
)
def test_any_sample_rate_is_resampled_keeping_pitch_and_level(rate: int, container: str, codec: str | None) -> None:
    time_axis = np.arange(2 * rate) / rate
    tone = (0.25 * np.sin(2 * np.pi * 1000 * time_axis))[:, None].astype(np.float32)
    audio = decode_audio(synth.encode(tone, rate, container, codec=codec))
    assert audio.sample_rate == WORKING_SAMPLE_RATE
    assert audio.duration_seconds == pytest.approx(2.0, abs=0.06)
    middle = audio.mono()[WORKING_SAMPLE_RATE // 2 : 3 * WORKING_SAMPLE_RATE // 2]
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(middle.size)))
    assert np.fft.rfftfreq(middle.size, 1 / WORKING_SAMPLE_RATE)[spectrum.argmax()] == pytest.approx(1000, abs=2)
    level_db = 20 * np.log10(np.sqrt(np.mean(middle**2)) / (0.25 / np.sqrt(2)))
    assert level_db == pytest.approx(0, abs=0.1 if container == "wav" else 0.6)


@pytest.mark.parametrize("container", ["wav", "m4a", "mov"])
def test_stereo_keeps_both_channels(container: str) -> None:
    rate = synth.CONTAINER_SAMPLE_RATES[container]
    signal = synth.stereo(good_voice(rate))
    signal[:, 1] *= 0.5
    audio = decode_audio(synth.encode(signal, rate, container))
    assert audio.channels == audio.source_channels == 2
    left, right = (np.sqrt(np.mean(audio.samples[:, side] ** 2)) for side in (0, 1))
    assert 20 * np.log10(right / left) == pytest.approx(-6.02, abs=0.2)
    assert np.allclose(audio.mono(), audio.samples.mean(axis=1), atol=1e-6)


@pytest.mark.parametrize("container", ["mp4", "mov"])
def test_a_video_without_an_audio_track_is_refused(container: str) -> None:
    assert refusal(synth.video_without_audio(container)) == "the file has no audio track"


def test_empty_bytes_are_refused() -> None:
    assert refusal(b"") == "could not decode the audio: the file is empty"


@pytest.mark.parametrize(
    ("data", "described_as"),
    [
        (b"\x00" + np.random.default_rng(1).bytes(20_000), None),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "a PNG image"),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "an HTML page"),
        (b"OggS\x00\x02" + bytes(200), "an Ogg media file"),
        (b"fLaC" + bytes(200), "a FLAC audio file"),
        (b"\xff\xf1\x50\x80" + bytes(200), None),  # ADTS AAC: an MP3 look-alike that is not one
    ],
)
def test_files_that_are_not_audio_are_refused_by_their_bytes(data: bytes, described_as: str | None) -> None:
    message = refusal(data)
    assert message.startswith("could not decode the audio: the file is not an MP3, WAV, M4A, MP4 or MOV file")
    if described_as:
        assert message.endswith(f"(its bytes look like {described_as})")


@pytest.mark.parametrize("seed", range(6))
def test_random_bytes_are_refused(seed: int) -> None:
    assert refusal(np.random.default_rng(seed).bytes(20_000)).startswith("could not decode the audio: ")


@pytest.mark.parametrize(
    "header",
    [
        b"RIFF\x00\x10\x00\x00WAVEfmt ",
        b"ID3\x04\x00\x00\x00\x00\x00\x00",
        b"\xff\xfb\x90\x64",
        b"\x00\x00\x00\x18ftypmp42",
    ],
)
def test_a_right_header_followed_by_garbage_is_refused(header: bytes) -> None:
    message = refusal(header + np.random.default_rng(2).bytes(5_000))
    assert message.startswith(("could not decode the audio: ", "the file has no audio track"))


@pytest.mark.parametrize("container", CONTAINERS)
def test_truncated_files_are_refused_or_decode_what_is_there(container: str) -> None:
    data = good_voice_file(container)
    for size in (8, 64, 500, len(data) // 3, len(data) // 2, len(data) - 100):
        decodes_or_is_refused(data[:size])
    if container in ("m4a", "mp4", "mov"):  # the index (moov) is written last: cut off, nothing plays
        assert refusal(data[: len(data) // 2]).startswith("could not decode the audio: ")


@pytest.mark.parametrize("container", CONTAINERS)
def test_corrupted_files_never_raise_anything_but_input_error(container: str) -> None:
    data = good_voice_file(container)
    rng = np.random.default_rng(3)
    for _ in range(12):
        damaged = bytearray(data)
        at = rng.integers(0, len(data), 40)
        damaged[at[0] : at[0] + 300] = rng.bytes(len(damaged[at[0] : at[0] + 300]))
        for position in at[1:]:
            damaged[position] ^= 1 << int(rng.integers(8))
        decodes_or_is_refused(bytes(damaged))


def test_an_unsupported_codec_in_a_supported_container_is_refused() -> None:
    rate = 48_000
    data = synth.encode(good_voice(rate), rate, "mov", codec="ac3")
    assert refusal(data) == "the audio track is encoded as ac3; supported are AAC, MP3, ALAC, FLAC, Opus and PCM"


def test_audio_declared_too_long_is_refused_before_decoding() -> None:
    assert refusal(good_voice_file("mp3"), max_seconds=3) == "audio is 7.0 s long; at most 3 s is accepted"
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8_000)
        writer.writeframes(bytes(2 * 8_000 * 3_600))
    audio = buffer.getvalue()
    with collector_paused():
        started = time.monotonic()
        message = refusal(audio)
        assert time.monotonic() - started < 1.0
    assert message == "audio is 3600.0 s long; at most 120 s is accepted"


@pytest.mark.parametrize("container", ["wav", "m4a"])
def test_decoding_stops_once_past_the_limit(container: str) -> None:
    # 7 s against a 5 s limit: within the margin given to headers' estimates, so only decoding finds out.
    assert refusal(good_voice_file(container), max_seconds=5) == "audio is longer than 5 s; at most 5 s is accepted"


# The voice rules


@pytest.mark.parametrize("container", CONTAINERS)
def test_a_clean_voice_passes_in_every_container(container: str) -> None:
    report = check_voice(decode_audio(good_voice_file(container)))
    assert report.problems == []
    require_usable_voice(report)
    assert report.usable
    assert report.duration_seconds == pytest.approx(SECONDS, abs=0.06)
    assert report.voiced_fraction > 0.5
    assert report.speech_fraction > 0.9
    assert report.clipped_fraction == 0
    assert report.snr_db > 40
    assert report.noise_floor_dbfs < -60


@pytest.mark.parametrize(
    "make",
    [
        lambda rate: synth.voice(SECONDS, rate, pitch_hz=220.0, seed=11),  # a higher voice
        lambda rate: synth.voice(SECONDS, rate, pitch_hz=90.0, seed=12),  # a low one
        lambda rate: synth.stereo(synth.voice(SECONDS, rate, seed=13)),
        lambda rate: synth.with_noise(synth.voice(SECONDS, rate, seed=14), snr_db=25.0),  # a quiet room
        lambda rate: synth.voice(SECONDS, rate, seed=15) * 0.03,  # recorded far too quietly, peak -36 dBFS
        lambda rate: np.concatenate([np.zeros((rate, 1), np.float32), synth.voice(SECONDS, rate, seed=16)]),
    ],
    ids=["high", "low", "stereo", "room_noise", "quiet", "leading_silence"],
)
def test_voices_a_user_would_expect_to_pass(make: Callable[[int], np.ndarray]) -> None:
    report = check_voice(decode_audio(synth.encode(make(44_100), 44_100, "mp3")))
    assert report.problems == []


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("name", list(BAD_SAMPLES))
def test_each_bad_sample_fails_its_rule_in_every_container(name: str, container: str) -> None:
    case = BAD_SAMPLES[name]
    rate = case.rate or synth.CONTAINER_SAMPLE_RATES[container]
    report = check_voice(decode_audio(synth.encode(bad_signal(name, rate), rate, container)))
    matches = [match for problem in report.problems if (match := re.fullmatch(case.problem, problem))]
    assert matches, f"{name} in {container}: no problem matches {case.problem!r}: {report.problems}"
    shown = matches[0].group(1)
    decimals = len(shown.partition(".")[2])
    assert float(shown) == pytest.approx(case.measured(report), abs=0.5 * 10**-decimals + 1e-9)
    if case.only_problem:
        assert len(report.problems) == 1, report.problems
    with pytest.raises(InputError) as raised:
        require_usable_voice(report)
    assert raised.value.param == "audio"
    assert matches[0].group(0) in raised.value.message


def test_every_broken_rule_is_named_in_one_message() -> None:
    rate = 24_000
    signal = np.clip(synth.voice(3.0, rate) * 8, -1, 1)
    report = check_voice(decode_audio(synth.encode(signal, rate, "wav")))
    with pytest.raises(InputError) as raised:
        require_usable_voice(report)
    assert raised.value.message.startswith("audio is 3.0 s long; a voice needs 5 to 30 s; also, audio is clipped: ")


# The normalised sample


def stored_sample(wav_bytes: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(wav_bytes)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 24_000)
        assert reader.getcomptype() == "NONE"
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), "<i2")
    return pcm.astype(np.float64) / 32767


@pytest.mark.parametrize(
    ("container", "make"),
    [
        ("wav", good_voice),
        ("m4a", lambda rate: synth.stereo(good_voice(rate)) * 0.03),  # quiet and stereo: raised ~30 dB
        ("mp3", lambda rate: good_voice(rate) * 1.9),  # peaking at -0.4 dBFS: lowered
        ("mov", lambda rate: synth.with_noise(good_voice(rate), snr_db=25.0)),
    ],
    ids=["wav", "quiet_stereo_m4a", "hot_mp3", "noisy_mov"],
)
def test_normalised_voice_is_mono_24k_16_bit_at_the_target_loudness(
    container: str, make: Callable[[int], np.ndarray]
) -> None:
    rate = synth.CONTAINER_SAMPLE_RATES[container]
    stored = normalise_voice(decode_audio(synth.encode(make(rate), rate, container)))
    samples = stored_sample(stored)
    assert samples.size / 24_000 == pytest.approx(SECONDS, abs=0.06)
    assert gated_level_dbfs(samples, 24_000) == pytest.approx(TARGET_SPEECH_LEVEL_DBFS, abs=1.0)
    assert peak_dbfs(samples) <= PEAK_CEILING_DBFS + 1e-3
    assert check_voice(decode_audio(stored)).problems == []


def test_peaks_above_the_ceiling_are_limited_not_clipped() -> None:
    rate = 24_000
    voice = good_voice(rate)[:, 0].astype(np.float64) * 0.2
    clicks = np.arange(rate // 2, voice.size, rate)
    voice[clicks] = 0.9  # one loud click a second: 25 dB above the speech around it
    audio = decode_audio(synth.encode(voice[:, None], rate, "wav"))
    samples = stored_sample(normalise_voice(audio))
    assert peak_dbfs(samples) <= PEAK_CEILING_DBFS + 1e-3
    assert gated_level_dbfs(samples, rate) == pytest.approx(TARGET_SPEECH_LEVEL_DBFS, abs=1.0)
    ceiling = 10 ** (PEAK_CEILING_DBFS / 20)
    assert np.mean(np.abs(samples) >= ceiling * 0.999) < 1e-4  # a limiter, not a clipper


def test_gated_level_is_the_level_while_sounding() -> None:
    rate = 24_000
    tone = 0.1 * np.sin(2 * np.pi * 440 * np.arange(3 * rate) / rate)
    with_pauses = np.concatenate([tone, np.zeros(2 * rate), tone, np.zeros(4 * rate)])
    # Blocks that straddle a pause's edge count in part, as in BS.1770: a few tenths of a dB low.
    assert gated_level_dbfs(with_pauses, rate) == pytest.approx(20 * np.log10(0.1 / np.sqrt(2)), abs=0.5)
    assert gated_level_dbfs(np.zeros(rate), rate) is None


def test_the_limiter_only_touches_what_is_near_a_peak() -> None:
    rate = 24_000
    signal = np.random.default_rng(4).normal(0, 0.1, rate)
    signal[[3000, 12000, 12050]] = [1.5, -2.0, 1.2]
    limited = limit_peaks(signal, rate, 0.5)
    assert np.max(np.abs(limited)) <= 0.5
    near = np.zeros(rate, bool)
    for peak in (3000, 12000, 12050):
        near[peak - 400 : peak + 401] = True
    assert np.array_equal(limited[~near], signal[~near])
    assert np.all(np.abs(np.diff(limited[near])) < 1.0)


def test_a_silent_sample_cannot_be_normalised() -> None:
    silent = decode_audio(synth.encode(np.zeros((24_000, 1), np.float32), 24_000, "wav"))
    with pytest.raises(InputError, match="silent"):
        normalise_voice(silent)


# Real speech from Debian's espeak-ng, which `make test` installs


def test_synthesised_speech_passes_and_fails_like_a_recording() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.fail("this test needs espeak-ng (apt-get install espeak-ng; `make test` installs it)", pytrace=False)
    text = (
        "My voice is my passport. Please call Stella and ask her to bring these things with her from the "
        "store: six spoons of fresh snow peas and five thick slabs of blue cheese."
    )
    spoken = subprocess.run(["espeak-ng", "-v", "en-us", "--stdout", text], capture_output=True, check=True).stdout
    audio = decode_audio(spoken)
    assert check_voice(audio).problems == []
    noisy = synth.with_noise(audio.samples, snr_db=5.0)
    report = check_voice(decode_audio(synth.encode(noisy, audio.sample_rate, "wav")))
    assert any(problem.startswith("signal-to-noise ratio is") for problem in report.problems)
