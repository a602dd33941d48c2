"""Decoding user-supplied audio (a voice sample) with PyAV, and writing the normalised sample we keep.

Files are judged by their bytes, never by a name or a declared content type: only the demuxer of the
container the bytes announce (WAV, MP3, or the MP4 family: .m4a, .mp4, .mov) and the decoders of the
codecs such files carry ever see the data. Decoding stops as soon as the audio runs past the caller's
limit, so an hour-long file costs no more than `max_seconds` of decoding to refuse.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

import av
import numpy as np

from reelserve.errors import InputError
from reelserve.media.audio_levels import PEAK_CEILING_DBFS, TARGET_SPEECH_LEVEL_DBFS, loudness_normalise
from reelserve.media.sniff import describe_content

WORKING_SAMPLE_RATE = 24_000
"""Every decoded sample, and every stored voice, is at 24 kHz: it keeps speech's whole useful band
(up to 12 kHz; sibilants fade above ~10 kHz), it is the native rate of the common voice-cloning and
TTS models (F5-TTS, StyleTTS 2, EnCodec/Vocos-based ones), AAC can carry it as is, and 16 kHz
speaker encoders get it by an exact 3:2 resampling."""

# QuickTime "data references" point at other files; never follow them (FFmpeg's default, made explicit).
_DEMUXER_OPTIONS = {"mov": {"enable_drefs": "0"}}
_MP4_BRAND_NAMES = {b"M4A ": "m4a", b"M4B ": "m4a", b"qt  ": "mov"}
_CODECS = frozenset({"aac", "mp3", "mp3float", "alac", "flac", "opus"})
_CODEC_NAMES = "AAC, MP3, ALAC, FLAC, Opus and PCM"
_SUPPORTED = "MP3, WAV, M4A, MP4 or MOV"
# A few bad packets in a long file are skipped (as every player does); more than this share refuses it.
_MAX_BAD_PACKET_SHARE = 0.01
_MIN_BAD_PACKETS_TOLERATED = 3


@dataclass(frozen=True, eq=False)
class DecodedAudio:
    samples: np.ndarray
    """float32, shaped (samples, channels), nominally in [-1, 1] (lossy decoders may overshoot a little).
    Mono stays mono; anything else is stereo (more channels are downmixed by FFmpeg's standard matrix).
    Channels are kept because clipping is judged per channel: a mix would hide one clipped side."""
    sample_rate: int
    container: str
    """'wav', 'mp3', 'm4a', 'mp4' or 'mov' (from the MP4 family's brand)."""
    codec: str
    """The decoder that read the audio track: 'pcm_s16le', 'mp3float', 'aac', ..."""
    source_sample_rate: int
    source_channels: int

    @property
    def duration_seconds(self) -> float:
        return self.samples.shape[0] / self.sample_rate

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    def mono(self) -> np.ndarray:
        """The channels mixed down to one float32 array."""
        return self.samples.mean(axis=1, dtype=np.float32) if self.channels > 1 else self.samples[:, 0]


def decode_audio(data: bytes, *, max_seconds: float = 120) -> DecodedAudio:
    """The first audio track of an MP3, WAV, M4A, MP4 or MOV file, at WORKING_SAMPLE_RATE.

    Raises InputError (param "audio") for anything that is not such a file, has no audio track,
    cannot be decoded, or holds more than `max_seconds` of audio.
    """
    if not data:
        _refuse("could not decode the audio: the file is empty")
    demuxer = _demuxer_for(data)
    try:
        with av.open(
            io.BytesIO(data),
            mode="r",
            format=demuxer,
            container_options=_DEMUXER_OPTIONS.get(demuxer),
            metadata_errors="replace",  # tags play no part; a mis-encoded title must not refuse the file
        ) as container:
            if not container.streams.audio:
                _refuse("the file has no audio track")
            stream = container.streams.audio[0]
            _refuse_unsupported_codec(stream)
            _refuse_if_declared_too_long(container, stream, max_seconds)
            samples = _decode_stream(container, stream, max_seconds)
            return DecodedAudio(
                samples=samples,
                sample_rate=WORKING_SAMPLE_RATE,
                container=_container_name(demuxer, data),
                codec=stream.codec_context.name,
                source_sample_rate=stream.codec_context.sample_rate,
                source_channels=stream.codec_context.channels,
            )
    except (av.FFmpegError, OSError, ValueError, EOFError, MemoryError) as error:
        _refuse(f"could not decode the audio: {_reason(error)}")


def normalise_voice(audio: DecodedAudio) -> bytes:
    """A mono 16-bit PCM WAV at WORKING_SAMPLE_RATE, its speech at TARGET_SPEECH_LEVEL_DBFS, peaks at most
    PEAK_CEILING_DBFS. Raises InputError if the audio is silent (there is no level to normalise)."""
    if audio.sample_rate != WORKING_SAMPLE_RATE:
        raise ValueError(f"decoded audio is at {audio.sample_rate} Hz, expected {WORKING_SAMPLE_RATE}")
    mono = audio.mono().astype(np.float64)
    mono -= mono.mean()  # a DC offset is no part of the voice and would eat headroom
    normalised = loudness_normalise(mono, audio.sample_rate, TARGET_SPEECH_LEVEL_DBFS, PEAK_CEILING_DBFS)
    if normalised is None:
        _refuse("audio is silent; there is no voice to normalise")
    return _wav_bytes(normalised, audio.sample_rate)


def _demuxer_for(data: bytes) -> str:
    """The one FFmpeg demuxer allowed to read `data`, chosen by its first bytes."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[4:8] == b"ftyp" or data[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "mov"
    if data[:3] == b"ID3" or _starts_with_mp3_frame(data):
        return "mp3"
    description = describe_content(data[:1024])
    found = f" (its bytes look like {description})" if description else ""
    _refuse(f"could not decode the audio: the file is not an {_SUPPORTED} file{found}")


def _starts_with_mp3_frame(data: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, a known version, and a layer (ADTS AAC has layer 0)."""
    if len(data) < 4 or data[0] != 0xFF or data[1] & 0xE0 != 0xE0:
        return False
    version, layer, bitrate = (data[1] >> 3) & 3, (data[1] >> 1) & 3, data[2] >> 4
    return version != 1 and layer != 0 and bitrate != 15


def _container_name(demuxer: str, data: bytes) -> str:
    if demuxer != "mov":
        return demuxer
    return _MP4_BRAND_NAMES.get(data[8:12], "mp4") if data[4:8] == b"ftyp" else "mov"


def _refuse_unsupported_codec(stream: av.AudioStream) -> None:
    if stream.codec_context is None:
        _refuse("could not decode the audio: its codec is unknown")
    name = stream.codec_context.name
    if name not in _CODECS and not name.startswith("pcm_"):
        _refuse(f"the audio track is encoded as {name}; supported are {_CODEC_NAMES}")


def _refuse_if_declared_too_long(container: av.container.InputContainer, stream: av.AudioStream, limit: float) -> None:
    """Refuse at once when the header says the audio is far too long. Decoding checks again: headers can lie,
    and an MP3's is only an estimate from its first frame's bitrate, hence the wide margin."""
    if stream.duration is not None and stream.time_base is not None:
        declared = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        declared = container.duration / av.time_base
    else:
        return
    if declared > 2 * limit:
        _refuse(f"audio is {declared:.1f} s long; at most {limit:g} s is accepted")


def _decode_stream(container: av.container.InputContainer, stream: av.AudioStream, limit: float) -> np.ndarray:
    limit_samples = int(limit * WORKING_SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    decoded = 0
    for frame in _resampled(_frames(container, stream)):
        chunk = frame.to_ndarray().reshape(-1, frame.layout.nb_channels)
        chunks.append(chunk)
        decoded += chunk.shape[0]
        if decoded > limit_samples:
            _refuse(f"audio is longer than {limit:g} s; at most {limit:g} s is accepted")
    if not decoded:
        _refuse("could not decode the audio: the audio track is empty")
    channels = {chunk.shape[1] for chunk in chunks}
    if len(channels) > 1:  # the layout changed midway: keep the mix of whatever each part had
        chunks = [chunk.mean(axis=1, keepdims=True) for chunk in chunks]
    return np.concatenate(chunks).astype(np.float32, copy=False)


def _frames(container: av.container.InputContainer, stream: av.AudioStream) -> Iterator[av.AudioFrame]:
    packets = bad = 0
    last_error: Exception | None = None
    for packet in container.demux(stream):
        packets += 1
        try:
            yield from packet.decode()
        except av.InvalidDataError as error:
            bad += 1
            last_error = error
            if bad > max(_MIN_BAD_PACKETS_TOLERATED, _MAX_BAD_PACKET_SHARE * packets):
                raise
    if bad and packets == bad and last_error is not None:
        raise last_error


def _resampled(frames: Iterator[av.AudioFrame]) -> Iterator[av.AudioFrame]:
    """`frames` as packed float at WORKING_SAMPLE_RATE; a new resampler whenever the input's format changes."""
    resampler: av.AudioResampler | None = None
    current: tuple[str, str, int] | None = None
    for frame in frames:
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if shape != current:
            if resampler is not None:
                yield from resampler.resample(None)
            layout = "mono" if frame.layout.nb_channels == 1 else "stereo"
            resampler = av.AudioResampler(format="flt", layout=layout, rate=WORKING_SAMPLE_RATE)
            current = shape
        frame.pts = None  # timestamps play no part; a file's broken ones must not upset the filter graph
        yield from resampler.resample(frame)
    if resampler is not None:
        yield from resampler.resample(None)


def _wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    pcm = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm.tobytes())
    return buffer.getvalue()


def _reason(error: BaseException) -> str:
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return reason[0].lower() + reason[1:] if reason else reason


def _refuse(message: str) -> NoReturn:
    raise InputError(message, param="audio")
