"""Every family end to end through the production path: create_engine, start, generate, MP4."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelserve.engines.base import GeneratedVideo, GenerationRequest, Segment
from reelserve.engines.diffusers import DiffusersEngine, create_engine
from reelserve.errors import InputError
from reelserve.media.video import encode_mp4, probe_mp4
from tests.diffusers.conftest import TEST_FPS, binding
from tests.diffusers.tiny_pipelines import TINY_FAMILIES

FRAME_MULTIPLE = {"wan2.1-i2v": 4, "wan2.2-ti2v-5b": 4, "wan2.2-i2v-a14b": 4, "ltx-video": 8, "ltx-2": 8}
TEXT_TO_VIDEO = {"wan2.2-ti2v-5b", "ltx-video", "ltx-2"}
END_FRAME = {"ltx-video", "ltx-2", "wan2.1-flf2v"}

EngineFor = Callable[[str], DiffusersEngine]


def picture(width: int = 80, height: int = 48, hue: int = 0) -> Image.Image:
    """A gradient picture, of another aspect ratio than the output so the engine has to crop."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.stack([(x + hue) % 256 + 0 * y, y + 0 * x, np.full((height, width), 128.0)], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8))


def request(**fields: object) -> GenerationRequest:
    values: dict[str, object] = {
        "prompt": "a robot dancing on the beach",
        "segments": [],
        "duration": 1,
        "aspect_ratio": "16:9",
        "image": picture(),
        "seed": 7,
    }
    values.update(fields)
    return GenerationRequest(**values)  # type: ignore[arg-type]


def run(engine: DiffusersEngine, job: GenerationRequest) -> tuple[GeneratedVideo, np.ndarray, list[float]]:
    progress: list[float] = []
    engine.check(job)
    video = engine.generate(job, progress.append, lambda: False)
    frames = np.stack(list(video.frames))
    return video, frames, progress


def expected_frames(family: str, seconds: float) -> int:
    multiple = FRAME_MULTIPLE[family]
    return multiple * max(1, round(seconds * TEST_FPS / multiple)) + 1


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_image_to_video_makes_the_promised_mp4(family: str, started_engine: EngineFor, tmp_path: Path) -> None:
    engine = started_engine(family)
    video, frames, progress = run(engine, request(duration=2, sound=family == "ltx-2"))

    count = expected_frames(family, 2)
    assert frames.shape == (count, 32, 64, 3) and frames.dtype == np.uint8
    assert (video.width, video.height, video.fps, video.frame_count) == (64, 32, TEST_FPS, count)
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) >= 3

    encode_mp4(video, tmp_path / "out.mp4")
    info = probe_mp4(tmp_path / "out.mp4")
    assert (info.width, info.height, info.fps, info.frame_count) == (64, 32, TEST_FPS, count)
    assert info.has_audio is (family == "ltx-2")


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_multi_prompt_segments_add_up(family: str, started_engine: EngineFor) -> None:
    segments = [Segment("a cat walks in the city", 1), Segment("the camera zooms on a dog", 2)]
    video, frames, _ = run(started_engine(family), request(segments=segments, duration=3, aspect_ratio="1:1"))
    total = expected_frames(family, 1) + expected_frames(family, 2)
    assert video.frame_count == total and frames.shape == (total, 32, 32, 3)


def test_ltx2_sound_lasts_as_long_as_the_video(started_engine: EngineFor, tmp_path: Path) -> None:
    engine = started_engine("ltx-2")
    segments = [Segment("rain on a street", 1), Segment("a dog runs", 1)]
    video, frames, _ = run(engine, request(segments=segments, duration=2, sound=True))
    assert video.audio is not None and video.audio_sample_rate == 16000
    assert video.audio.dtype == np.float32 and video.audio.shape == (round(len(frames) / TEST_FPS * 16000), 2)
    assert np.abs(video.audio).max() <= 1.0

    encode_mp4(video, tmp_path / "sound.mp4")
    info = probe_mp4(tmp_path / "sound.mp4")
    assert info.has_audio and info.frame_count == len(frames)

    silent, _, _ = run(engine, request(sound=False))
    assert silent.audio is None and silent.audio_sample_rate is None


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_text_to_video_where_the_family_has_it(family: str, started_engine: EngineFor) -> None:
    engine = started_engine(family)
    assert engine.capabilities.text_to_video is (family in TEXT_TO_VIDEO)
    job = request(image=None, aspect_ratio="9:16")
    if family in TEXT_TO_VIDEO:
        _, frames, _ = run(engine, job)
        assert frames.shape == (expected_frames(family, 1), 64, 32, 3)
    else:
        with pytest.raises(InputError, match="from an image") as refused:
            engine.check(job)
        assert refused.value.param == "image"


@pytest.mark.parametrize("variant", [*TINY_FAMILIES, "wan2.1-flf2v"])
def test_end_frame_where_the_checkpoint_takes_one(variant: str, started_engine: EngineFor) -> None:
    engine = started_engine(variant)
    assert engine.capabilities.end_frame is (variant in END_FRAME)
    job = request(end_image=picture(hue=120), guidance_scale=0.8)
    if variant in END_FRAME:
        _, frames, _ = run(engine, job)
        assert len(frames) == 9
    else:
        with pytest.raises(InputError, match="end frame") as refused:
            engine.check(job)
        assert refused.value.param == "end_image"


def test_first_last_frame_checkpoint_needs_both_frames(started_engine: EngineFor) -> None:
    engine = started_engine("wan2.1-flf2v")
    assert not engine.capabilities.multi_prompt and not engine.capabilities.text_to_video
    with pytest.raises(InputError) as refused:
        engine.check(request())
    assert refused.value.param == "end_image"
    segments = [Segment("a", 1), Segment("b", 1)]
    with pytest.raises(InputError) as refused:
        engine.check(request(end_image=picture(), segments=segments, duration=2))
    assert refused.value.param == "multi_prompt"


@pytest.mark.parametrize("family", ["wan2.1-i2v", "ltx-video"])
def test_sound_is_refused_where_the_family_makes_none(family: str, started_engine: EngineFor) -> None:
    engine = started_engine(family)
    assert not engine.capabilities.sound
    with pytest.raises(InputError, match="without sound") as refused:
        engine.check(request(sound=True))
    assert refused.value.param == "sound"


def test_seed_reproduces_and_guidance_changes_the_video(started_engine: EngineFor) -> None:
    engine = started_engine("wan2.2-ti2v-5b")
    _, first, _ = run(engine, request(seed=11))
    _, again, _ = run(engine, request(seed=11))
    _, other_seed, _ = run(engine, request(seed=12))
    _, other_guidance, _ = run(engine, request(seed=11, guidance_scale=1.0, negative_prompt="blurry"))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other_seed)
    assert not np.array_equal(first, other_guidance)


def test_other_aspect_ratios_get_a_size_of_the_same_area(started_engine: EngineFor) -> None:
    engine = started_engine("ltx-video")
    # The bound 16:9 size is 64x32 (2048 pixels); 4:3 of that area, in multiples of 32, is 64x32 again
    # and 2:5 is 32x64.
    video, frames, _ = run(engine, request(aspect_ratio="4:3"))
    assert (video.width, video.height) == (64, 32) and frames.shape[1:3] == (32, 64)
    video, frames, _ = run(engine, request(aspect_ratio="2:5"))
    assert (video.width, video.height) == (32, 64) and frames.shape[1:3] == (64, 32)
    for bad, param in (("wide", "aspect_ratio"), ("10:1", "aspect_ratio")):
        with pytest.raises(InputError) as refused:
            engine.check(request(aspect_ratio=bad))
        assert refused.value.param == param
    with pytest.raises(InputError) as refused:
        engine.check(request(guidance_scale=1.5))
    assert refused.value.param == "guidance_scale"


@pytest.mark.parametrize(
    ("family", "text_weights"), [("wan2.2-i2v-a14b", "wan2.2-t2v-a14b"), ("wan2.1-i2v", "wan2.1-t2v")]
)
def test_wan_image_families_serve_text_to_video_from_bound_weights(
    family: str, text_weights: str, tiny_weights: Callable[[str], Path]
) -> None:
    options = binding(family, tiny_weights(family), text_to_video_weights=str(tiny_weights(text_weights)))
    engine = create_engine(options, base_dir=Path.cwd())
    assert engine.capabilities.text_to_video
    engine.start()
    try:
        _, frames, _ = run(engine, request(image=None))
        assert frames.shape == (9, 32, 64, 3)
        _, frames, _ = run(engine, request())
        assert frames.shape == (9, 32, 64, 3)
    finally:
        engine.close()
