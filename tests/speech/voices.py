"""Voices for the speech tests: speech-like samples of a known pitch, created through the HTTP API, and
measuring what comes back (the MP4's audio track, its pitch and where it sounds)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
import pyworld

from tests.support import audio
from tests.support.http_files import FileServer
from tests.support.server import RunningServer

CREATE = "kwaivgi/kling_custom_voice/create_voice"
RATE = 48_000
LOW_HZ, HIGH_HZ = 100.0, 225.0


def create_voice(server: RunningServer, file_server: FileServer, pitch_hz: float, seed: int = 1) -> str:
    """A voice made from 8 s of speech-like audio at `pitch_hz`; its id."""
    sample = audio.voice(8, RATE, pitch_hz=pitch_hz, seed=seed)
    url = file_server.add(f"/speech-voices/{pitch_hz:g}-{seed}.wav", audio.encode(sample, RATE, "wav"), "audio/wav")
    response = server.submit(CREATE, {"audio": url, "enable_sync_mode": True})
    data = response.json()["data"]
    assert data["status"] == "completed", data
    return data["outputs"][0]


def sample_median_pitch(pitch_hz: float, seed: int = 1) -> float:
    return median_pitch(audio.voice(8, RATE, pitch_hz=pitch_hz, seed=seed)[:, 0], RATE)


def median_pitch(signal: np.ndarray, rate: int) -> float:
    """Median F0 of the voiced frames by WORLD's Harvest (the backend itself uses DIO)."""
    f0, _ = pyworld.harvest(np.ascontiguousarray(signal, dtype=np.float64), rate, f0_floor=60.0, f0_ceil=500.0)
    voiced = f0[f0 > 0]
    assert voiced.size > 10, "no voiced speech to measure"
    return float(np.median(voiced))


@dataclass
class DecodedMp4:
    video_seconds: float
    audio_seconds: float
    audio_codec: str
    audio: np.ndarray
    """Mono float samples."""
    rate: int


def decode_mp4(data: bytes) -> DecodedMp4:
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
        video_seconds = frames / float(video.average_rate)
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        codec = stream.codec_context.name
        rate = stream.codec_context.sample_rate
        # AAC decodes to planar float: (channels, samples) per frame.
        chunks = [frame.to_ndarray() for frame in container.decode(stream)]
    samples = np.concatenate([chunk.mean(axis=0) for chunk in chunks])
    return DecodedMp4(video_seconds, samples.size / rate, codec, samples.astype(np.float32), rate)


def sounding(signal: np.ndarray, rate: int, frame_seconds: float = 0.02, gate_dbfs: float = -45.0) -> np.ndarray:
    """Per 20 ms frame, whether it sounds above the gate: the energy envelope."""
    frame = round(frame_seconds * rate)
    count = signal.size // frame
    power = (signal[: count * frame].astype(np.float64).reshape(count, frame) ** 2).mean(axis=1)
    return 10 * np.log10(np.maximum(power, 1e-30)) > gate_dbfs


def span(signal: np.ndarray, rate: int, start: float, end: float) -> np.ndarray:
    return signal[round(start * rate) : round(end * rate)]


def lines_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    return data["input"]["script"]["lines"]
