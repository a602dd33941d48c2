"""A small real MP4 (H.264 video and AAC sound) made with PyAV, as a hosted provider would return one."""

from __future__ import annotations

import io
from fractions import Fraction
from functools import cache

import av
import numpy as np


@cache
def tiny_mp4(seconds: int = 2, width: int = 160, height: int = 96, fps: int = 12, sound: bool = True) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=24000) if sound else None
        for index in range(seconds * fps):
            shade = np.full((height, width, 3), (index * 9) % 255, dtype=np.uint8)
            shade[:, : width // 2, 1] = 200
            for packet in video.encode(av.VideoFrame.from_ndarray(shade, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if audio is not None:
            samples = 1024
            for start in range(0, seconds * 24000, samples):
                times = (np.arange(start, start + samples) / 24000).astype(np.float32)
                tone = (0.2 * np.sin(2 * np.pi * 440 * times)).reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 24000, start, Fraction(1, 24000)
                for packet in audio.encode(frame):
                    container.mux(packet)
            for packet in audio.encode():
                container.mux(packet)
    return buffer.getvalue()
