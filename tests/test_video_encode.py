"""encode_mp4 / probe_mp4: real H.264 + AAC files, decoded back with PyAV."""

from __future__ import annotations

import struct
import weakref
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from reelserve.engines.base import GeneratedVideo, JobInterrupted
from reelserve.media.video import EncodedVideoInfo, encode_mp4, new_yuv420p_planes, probe_mp4, rgb_to_yuv_planes

WIDTH, HEIGHT = 160, 96


def moving_frames(count: int, width: int = WIDTH, height: int = HEIGHT) -> Iterator[np.ndarray]:
    """Smooth colour waves sliding right by two pixels a frame, over a little fixed texture."""
    texture = np.random.default_rng(3).normal(0, 6, (height, width, 1))
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    for index in range(count):
        shifted = x - 2 * index
        red = 128 + 80 * np.sin(shifted / 9)
        green = 128 + 80 * np.cos(y / 7 + shifted / 13)
        blue = 100 + 40 * np.sin((shifted + y) / 17)
        yield np.clip(np.dstack([red, green, blue]) + texture, 0, 255).astype(np.uint8)


def video_of(frames, count: int, fps: int = 24, **audio) -> GeneratedVideo:
    return GeneratedVideo(frames=frames, width=WIDTH, height=HEIGHT, fps=fps, frame_count=count, **audio)


def top_level_boxes(path: Path) -> list[tuple[str, int]]:
    """(type, offset) of each top-level ISO-BMFF box, walking box sizes rather than searching bytes."""
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        elif size == 0:
            size = len(data) - offset
        boxes.append((kind.decode("latin-1"), offset))
        offset += size
    return boxes


def decoded_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.mark.parametrize("count", [1, 24, 37])
def test_h264_yuv420p_with_exact_frame_count_rate_and_duration(tmp_path: Path, count: int) -> None:
    path = tmp_path / "clip.mp4"
    info = encode_mp4(video_of(moving_frames(count), count), path)
    probed = probe_mp4(path)
    assert info == EncodedVideoInfo(WIDTH, HEIGHT, 24.0, count, count / 24, False)
    assert (probed.video_codec, probed.pixel_format) == ("h264", "yuv420p")
    assert (probed.width, probed.height, probed.frame_count) == (WIDTH, HEIGHT, count)
    assert probed.fps == 24
    assert probed.duration_seconds == pytest.approx(count / 24, abs=1e-6)
    assert not probed.has_audio and probed.audio_codec is None


def test_other_frame_rates_are_kept_exactly(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    encode_mp4(video_of(moving_frames(45), 45, fps=30), path)
    probed = probe_mp4(path)
    assert (probed.fps, probed.frame_count) == (30, 45)
    assert probed.duration_seconds == pytest.approx(1.5, abs=1e-6)


def test_moov_comes_before_mdat_for_progressive_playback(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    encode_mp4(video_of(moving_frames(24), 24), path)
    offsets = dict(top_level_boxes(path))
    assert {"ftyp", "moov", "mdat"} <= offsets.keys()
    assert offsets["moov"] < offsets["mdat"]


def test_frames_survive_the_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    originals = list(moving_frames(12))
    encode_mp4(video_of(iter(originals), 12), path, crf=12)
    decoded = decoded_frames(path)
    assert len(decoded) == 12
    assert min(psnr(a, b) for a, b in zip(originals, decoded, strict=True)) > 32


def test_colours_are_bt709_limited_range_and_tagged(tmp_path: Path) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (128, 128, 128), (20, 40, 200), (0, 0, 0)]
    patch = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    for index, colour in enumerate(colours):
        patch[:, index * 16 : (index + 1) * 16] = colour
    path = tmp_path / "clip.mp4"
    encode_mp4(video_of([patch] * 2, 2), path, crf=10)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert frame.colorspace == av.video.reformatter.Colorspace.ITU709
        assert frame.color_range == av.video.reformatter.ColorRange.MPEG
        rgb = frame.to_ndarray(format="rgb24")
    for index, colour in enumerate(colours):
        assert np.abs(rgb[HEIGHT // 2, index * 16 + 8].astype(int) - colour).max() <= 4, colour


class PlanarSource:
    """A frame source offering yuv420p planes as the motion engine does; `in_place` writes them into planes from
    new_yuv420p_planes, as the motion engine does too, rather than into arrays of its own."""

    def __init__(self, frames: list[np.ndarray], in_place: bool = False) -> None:
        self.frames = frames
        self.in_place = in_place
        self.planar_used = False

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.frames)

    def iter_yuv420p(self):
        self.planar_used = True
        for rgb in self.frames:
            height, width = rgb.shape[:2]
            luma, u, v = rgb_to_yuv_planes(rgb)
            planes = (
                luma,
                u.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)).round().astype(np.uint8),
                (v.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)).round().astype(np.uint8)),
            )
            if self.in_place:
                own, planes = planes, new_yuv420p_planes(width, height)
                for target, data in zip(planes, own, strict=True):
                    target[:] = data
            yield planes


def test_planar_frame_sources_skip_rgb_and_look_the_same(tmp_path: Path) -> None:
    frames = list(moving_frames(6))
    source = PlanarSource(frames)
    encode_mp4(video_of(source, 6), tmp_path / "planar.mp4", crf=12)
    encode_mp4(video_of(list(frames), 6), tmp_path / "rgb.mp4", crf=12)
    assert source.planar_used
    planar, rgb = decoded_frames(tmp_path / "planar.mp4"), decoded_frames(tmp_path / "rgb.mp4")
    assert min(psnr(a, b) for a, b in zip(planar, rgb, strict=True)) > 35


def test_planes_made_in_the_encoders_frames_encode_as_copied_ones(tmp_path: Path) -> None:
    # 200 px wide: every plane's rows are padded in memory (208 and 112 bytes), so this checks the strides too.
    frames = list(moving_frames(6, width=200))
    for name, in_place in (("in-place", True), ("copied", False)):
        video = GeneratedVideo(frames=PlanarSource(frames, in_place), width=200, height=HEIGHT, fps=24, frame_count=6)
        encode_mp4(video, tmp_path / f"{name}.mp4", crf=12)
    for name in ("in-place", "copied"):
        decoded = decoded_frames(tmp_path / f"{name}.mp4")
        assert len(decoded) == 6, name
        assert min(psnr(a, b) for a, b in zip(frames, decoded, strict=True)) > 32, name
        # Each frame shows the picture it was made from, not a neighbour's (which moved 2 px away).
        closest = [max(range(6), key=lambda index: psnr(frames[index], frame)) for frame in decoded]
        assert closest == list(range(6)), name


def test_new_planes_are_writable_views_of_the_frame_size() -> None:
    luma, u, v = new_yuv420p_planes(200, 96)
    assert (luma.shape, u.shape, v.shape) == ((96, 200), (48, 100), (48, 100))
    assert all(plane.dtype == np.uint8 and plane.flags.writeable for plane in (luma, u, v))
    fresh = new_yuv420p_planes(200, 96)
    assert not any(np.shares_memory(a, b) for a, b in zip((luma, u, v), fresh, strict=True))


def test_frames_are_streamed_not_collected(tmp_path: Path) -> None:
    alive: set[int] = set()
    most_alive = 0

    def tracked() -> Iterator[np.ndarray]:
        nonlocal most_alive
        for index, frame in enumerate(moving_frames(90)):
            alive.add(index)
            weakref.finalize(frame, alive.discard, index)
            most_alive = max(most_alive, len(alive))
            yield frame

    encode_mp4(video_of(tracked(), 90), tmp_path / "clip.mp4")
    assert most_alive <= 3, "frames are converted and released one by one"


def test_crf_trades_size_for_quality(tmp_path: Path) -> None:
    frames = list(moving_frames(12))
    encode_mp4(video_of(list(frames), 12), tmp_path / "fine.mp4", crf=16)
    encode_mp4(video_of(list(frames), 12), tmp_path / "coarse.mp4", crf=36)
    assert (tmp_path / "fine.mp4").stat().st_size > 2 * (tmp_path / "coarse.mp4").stat().st_size


def tone(seconds: float, rate: int, channels: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.repeat((0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None], channels, axis=1)


@pytest.mark.parametrize(
    ("audio_seconds", "rate", "channels"),
    [(3.0, 48000, 2), (0.4, 44100, 1), (2.0, 16000, 2), (2.0, 37000, 1)],
    ids=["longer-stereo", "shorter-mono", "16k", "odd-rate"],
)
def test_audio_is_aac_cut_or_padded_to_the_video(
    tmp_path: Path, audio_seconds: float, rate: int, channels: int
) -> None:
    path = tmp_path / "clip.mp4"
    info = encode_mp4(
        video_of(moving_frames(48), 48, audio=tone(audio_seconds, rate, channels), audio_sample_rate=rate), path
    )
    probed = probe_mp4(path)
    assert info.has_audio and probed.has_audio and probed.audio_codec == "aac"
    assert probed.frame_count == 48 and probed.duration_seconds == pytest.approx(2.0, abs=1e-6)
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.channels == channels
        samples = sum(frame.samples for frame in container.decode(stream))
        # AAC works in 1024-sample frames: the decoded track covers 2 s, rounded up to a frame.
        assert 2.0 <= samples / stream.sample_rate <= 2.0 + 2048 / stream.sample_rate
        assert container.duration / av.time_base == pytest.approx(2.0, abs=0.05)


def test_audio_and_video_are_interleaved(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    encode_mp4(video_of(moving_frames(72), 72, audio=tone(3, 48000, 2), audio_sample_rate=48000), path)
    with av.open(str(path)) as container:
        order = [packet.stream.type for packet in container.demux() if packet.size]
    first_half = order[: len(order) // 2]
    assert first_half.count("audio") >= 0.4 * order.count("audio"), "audio is spread along with the video"


def test_odd_dimensions_are_refused(tmp_path: Path) -> None:
    video = GeneratedVideo(frames=[], width=161, height=96, fps=24, frame_count=0)
    with pytest.raises(ValueError, match="even"):
        encode_mp4(video, tmp_path / "clip.mp4")
    assert not (tmp_path / "clip.mp4").exists()


def test_frames_of_the_wrong_size_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="frame 0 is 80x96"):
        encode_mp4(video_of(moving_frames(3, width=80), 3), tmp_path / "clip.mp4")
    assert not (tmp_path / "clip.mp4").exists()


def test_a_frame_count_other_than_promised_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="promised 10 frames but produced 7"):
        encode_mp4(video_of(moving_frames(7), 10), tmp_path / "clip.mp4")
    assert not (tmp_path / "clip.mp4").exists()


def test_an_interrupted_source_leaves_no_file(tmp_path: Path) -> None:
    def interrupted() -> Iterator[np.ndarray]:
        yield from moving_frames(5)
        raise JobInterrupted("stop")

    with pytest.raises(JobInterrupted):
        encode_mp4(video_of(interrupted(), 24), tmp_path / "clip.mp4")
    assert not (tmp_path / "clip.mp4").exists()
