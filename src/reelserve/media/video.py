"""MP4 files: H.264 (+ AAC) encoding of generated frames with PyAV, and probing encoded files.

Colour: every MP4 is yuv420p, BT.709, limited ("tv") range, and tagged so. Frames given as RGB are
converted by swscale; a frame source that implements `Yuv420pFrameSource` hands over planes already in
that form, which skips the per-frame RGB conversion (the motion engine renders straight into them, and
into planes from `new_yuv420p_planes`, which the encoder takes without copying).

Encoding runs on a background thread while the caller's thread produces frames, so an engine's
lazy frame generator (and its progress / stop callbacks) runs in the caller's thread, alongside x264.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import av
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc
from PIL import Image

if TYPE_CHECKING:  # media sits below engines; the engine contract is only named here, never imported
    from reelserve.engines.base import GeneratedVideo

# x264 presets at crf 23, 120 frames of a noisy 720p zoom on two cores: ultrafast 0.73 s / 9.6 MB,
# superfast 1.01 s / 3.1 MB, veryfast 1.09 s / 0.66 MB, faster 2.55 s / 0.98 MB, medium 3.85 s / 1.16 MB.
# veryfast costs barely more than superfast for a file several times smaller; anything slower takes
# 2.5x+ the time, which the "5 s of 720p rendered and encoded in under 5 s" target cannot afford.
DEFAULT_PRESET = "veryfast"
DEFAULT_CRF = 23
AUDIO_BITRATE = 128_000
AAC_SAMPLE_RATES = frozenset({96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000})
FALLBACK_AUDIO_RATE = 48000
ENCODER_QUEUE_DEPTH = 4

# BT.709 R'G'B' -> Y'CbCr scaled to limited range (Y' 16-235, Cb/Cr 16-240), as the 3x4 matrix that
# Pillow's convert() applies per pixel, rounding and clipping: one fast C pass instead of NumPy floats.
_KR, _KB = 0.2126, 0.0722
_KG = 1 - _KR - _KB
_Y_SCALE, _C_SCALE = 219 / 255, 224 / 255
BT709_LIMITED_MATRIX = (
    _KR * _Y_SCALE, _KG * _Y_SCALE, _KB * _Y_SCALE, 16.0,
    -_KR / (2 - 2 * _KB) * _C_SCALE, -_KG / (2 - 2 * _KB) * _C_SCALE, 0.5 * _C_SCALE, 128.0,
    0.5 * _C_SCALE, -_KG / (2 - 2 * _KR) * _C_SCALE, -_KB / (2 - 2 * _KR) * _C_SCALE, 128.0,
)  # fmt: skip


@dataclass(frozen=True)
class EncodedVideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int
    duration_seconds: float
    has_audio: bool
    video_codec: str = "h264"
    pixel_format: str = "yuv420p"
    audio_codec: str | None = None


Yuv420pPlanes = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Y (h, w), U (h/2, w/2), V (h/2, w/2) uint8 planes, BT.709 limited range."""


@runtime_checkable
class Yuv420pFrameSource(Protocol):
    """Frames (iterable as RGB arrays) that can also be produced directly as yuv420p planes."""

    def __iter__(self) -> Iterator[np.ndarray]: ...

    def iter_yuv420p(self) -> Iterator[Yuv420pPlanes]: ...


class _FramePlanes(tuple):
    """Yuv420pPlanes that are views into an encoder frame's own buffers, which the encoder takes as they are."""

    frame: av.VideoFrame


def new_yuv420p_planes(width: int, height: int) -> Yuv420pPlanes:
    """Writable, uninitialised Y, U, V planes for one frame (rows may be padded: write through the views).

    They live inside a frame made for the encoder, so a frame source that renders into them and hands them
    on spares encode_mp4 a copy of every frame; planes from anywhere else are copied in.
    """
    frame = av.VideoFrame(width, height, "yuv420p")
    planes = _FramePlanes(
        np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
        for plane in frame.planes
    )
    planes.frame = frame
    return planes


def rgb_image_to_yuv(image: Image.Image) -> tuple[Image.Image, Image.Image, Image.Image]:
    """Full-resolution Y, U, V planes (BT.709, limited range) of an RGB picture, as 8-bit images."""
    return image.convert("RGB", matrix=BT709_LIMITED_MATRIX).split()  # type: ignore[return-value]


def rgb_to_yuv_planes(rgb: np.ndarray) -> Yuv420pPlanes:
    """Full-resolution Y, U, V planes (BT.709, limited range) of an HxWx3 uint8 RGB array."""
    luma, u, v = rgb_image_to_yuv(Image.fromarray(rgb, "RGB"))
    return np.asarray(luma), np.asarray(u), np.asarray(v)


def encode_mp4(
    video: GeneratedVideo, path: Path, *, crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET
) -> EncodedVideoInfo:
    """Stream `video.frames` into an H.264 MP4 (faststart), muxing `video.audio` as AAC when given.

    The partial file is removed if encoding fails or the frame source raises (e.g. JobInterrupted).
    """
    if video.width % 2 or video.height % 2:
        raise ValueError(f"H.264 yuv420p needs even dimensions, got {video.width}x{video.height}")
    if video.fps <= 0:
        raise ValueError(f"fps must be positive, got {video.fps}")
    if video.audio is not None and not video.audio_sample_rate:
        raise ValueError("audio was given without audio_sample_rate")
    path = Path(path)
    try:
        with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
            muxer = _Muxer(container, video, crf=crf, preset=preset)
            frame_count = _encode_in_background(_video_frames(video), muxer.add_video_frame)
            muxer.finish()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if frame_count != video.frame_count:
        path.unlink(missing_ok=True)
        raise ValueError(f"the engine promised {video.frame_count} frames but produced {frame_count}")
    return EncodedVideoInfo(
        width=video.width,
        height=video.height,
        fps=float(video.fps),
        frame_count=frame_count,
        duration_seconds=frame_count / video.fps,
        has_audio=video.audio is not None,
        audio_codec="aac" if video.audio is not None else None,
    )


def probe_mp4(path: Path) -> EncodedVideoInfo:
    """What an MP4 holds, counting video frames by decoding them all."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frame_count = sum(1 for _ in container.decode(stream))
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = frame_count / fps if fps else 0.0
        audio = container.streams.audio[0] if container.streams.audio else None
        return EncodedVideoInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=fps,
            frame_count=frame_count,
            duration_seconds=duration,
            has_audio=audio is not None,
            video_codec=stream.codec_context.name,
            pixel_format=stream.codec_context.format.name if stream.codec_context.format else "",
            audio_codec=audio.codec_context.name if audio is not None else None,
        )


def _video_frames(video: GeneratedVideo) -> Iterator[av.VideoFrame]:
    """yuv420p frames with pts set, produced in the caller's thread."""
    time_base = Fraction(1, video.fps)
    frames = (
        (_frame_from_planes(planes) for planes in video.frames.iter_yuv420p())
        if isinstance(video.frames, Yuv420pFrameSource)
        else (_frame_from_rgb(rgb) for rgb in video.frames)
    )
    for index, frame in enumerate(frames):
        if (frame.width, frame.height) != (video.width, video.height):
            raise ValueError(
                f"frame {index} is {frame.width}x{frame.height}, the video is {video.width}x{video.height}"
            )
        frame.pts = index
        frame.time_base = time_base
        yield frame


def _frame_from_rgb(rgb: np.ndarray) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
        format="yuv420p",
        dst_colorspace=Colorspace.ITU709,
        dst_color_range=ColorRange.MPEG,
    )


def _frame_from_planes(planes: Yuv420pPlanes) -> av.VideoFrame:
    if isinstance(planes, _FramePlanes):
        return planes.frame
    luma = planes[0]
    frame = av.VideoFrame(luma.shape[1], luma.shape[0], "yuv420p")
    for plane, data in zip(frame.planes, planes, strict=True):
        if data.shape != (plane.height, plane.width):
            raise ValueError(f"yuv420p plane {plane.index} is {data.shape}, expected {plane.height}x{plane.width}")
        view = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
        view[:, : plane.width] = data
    return frame


class _Muxer:
    """The container's streams; used from the encoder thread only once encoding starts."""

    def __init__(self, container: av.container.OutputContainer, video: GeneratedVideo, *, crf: int, preset: str):
        self.container = container
        self.fps = video.fps
        self.stream = container.add_stream("libx264", rate=Fraction(video.fps))
        self.stream.width = video.width
        self.stream.height = video.height
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(crf), "preset": preset}
        context = self.stream.codec_context
        context.time_base = Fraction(1, video.fps)
        context.thread_type = "AUTO"
        context.thread_count = 0  # x264 picks its thread count from the cores
        context.colorspace = Colorspace.ITU709
        context.color_range = ColorRange.MPEG
        context.color_primaries = ColorPrimaries.BT709
        context.color_trc = ColorTrc.BT709
        self.audio = None
        if video.audio is not None and video.audio_sample_rate:
            seconds = video.frame_count / video.fps
            self.audio = _AudioFeed(container, video.audio, video.audio_sample_rate, seconds)
        self.frames_added = 0

    def add_video_frame(self, frame: av.VideoFrame) -> None:
        self.container.mux(self.stream.encode(frame))
        self.frames_added += 1
        if self.audio is not None:
            self.audio.feed_until(self.frames_added / self.fps)

    def finish(self) -> None:
        self.container.mux(self.stream.encode(None))
        if self.audio is not None:
            self.audio.finish(self.frames_added / self.fps)


class _AudioFeed:
    """AAC encoding of the whole audio track, fed in step with the video so the two interleave."""

    def __init__(
        self, container: av.container.OutputContainer, audio: np.ndarray, sample_rate: int, seconds: float
    ) -> None:
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[:, None]
        if samples.ndim != 2 or not 1 <= samples.shape[1] <= 2:
            raise ValueError(f"audio must be (samples, 1 or 2 channels), got shape {samples.shape}")
        self.input_rate = sample_rate
        self.layout = "mono" if samples.shape[1] == 1 else "stereo"
        wanted = round(seconds * sample_rate)
        if len(samples) < wanted:
            samples = np.concatenate([samples, np.zeros((wanted - len(samples), samples.shape[1]), np.float32)])
        self.samples = np.clip(np.nan_to_num(samples[:wanted]), -1.0, 1.0)
        self.sent = 0
        self.container = container
        rate = self.input_rate if self.input_rate in AAC_SAMPLE_RATES else FALLBACK_AUDIO_RATE
        self.stream = container.add_stream("aac", rate=rate, layout=self.layout)
        self.stream.codec_context.bit_rate = AUDIO_BITRATE

    def feed_until(self, seconds: float) -> None:
        end = min(len(self.samples), round(seconds * self.input_rate))
        if end <= self.sent:
            return
        chunk = np.ascontiguousarray(self.samples[self.sent : end].reshape(1, -1))
        frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout=self.layout)
        frame.sample_rate = self.input_rate
        frame.pts = self.sent
        frame.time_base = Fraction(1, self.input_rate)
        self.sent = end
        self.container.mux(self.stream.encode(frame))

    def finish(self, seconds: float) -> None:
        self.feed_until(seconds)
        self.container.mux(self.stream.encode(None))


_END = object()


def _encode_in_background(frames: Iterable[av.VideoFrame], encode: Callable[[av.VideoFrame], None]) -> int:
    """Iterate `frames` here while `encode` runs on a worker thread; returns how many frames were sent."""
    pending: queue.Queue[object] = queue.Queue(maxsize=ENCODER_QUEUE_DEPTH)
    failures: list[BaseException] = []

    def consume() -> None:
        try:
            while (item := pending.get()) is not _END:
                encode(item)  # type: ignore[arg-type]
        except BaseException as exc:
            failures.append(exc)
            while pending.get() is not _END:  # keep draining so the producer never blocks
                pass

    worker = threading.Thread(target=consume, name="mp4-encoder", daemon=True)
    worker.start()
    sent = 0
    try:
        for frame in frames:
            if failures:
                break
            pending.put(frame)
            sent += 1
    finally:
        pending.put(_END)
        worker.join()
    if failures:
        raise failures[0]
    return sent
