"""The motion engine: prompt wording -> camera move -> frames that move the right way, and MP4s of them."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from reelserve.engines.base import EngineError, GeneratedVideo, GenerationRequest, JobInterrupted, Segment
from reelserve.engines.motion import MotionEngine
from reelserve.engines.motion.camera import (
    DEFAULT_MOVE,
    STATIC,
    CameraMove,
    Speed,
    ZoomStyle,
    parse_camera_move,
)
from reelserve.engines.motion.path import MAX_ZOOM, CameraState, opening_state, plan_camera
from reelserve.engines.motion.render import (
    MAX_PRESCALE,
    OUTPUT_SIZES,
    PRESCALE_REDUCING_GAP,
    FrameRenderer,
    fill_box,
)
from reelserve.errors import InputError
from reelserve.media.video import Yuv420pPlanes, encode_mp4, probe_mp4, rgb_image_to_yuv, rgb_to_yuv_planes
from tests.support.images import photo_like

SLOW, FAST = Speed.SLOW, Speed.FAST
DOLLY = ZoomStyle.DOLLY
ZOOM_IN, ZOOM_OUT = CameraMove(zoom=1), CameraMove(zoom=-1)
DOLLY_IN, DOLLY_OUT = CameraMove(zoom=1, zoom_style=DOLLY), CameraMove(zoom=-1, zoom_style=DOLLY)
PAN_LEFT, PAN_RIGHT = CameraMove(pan=-1), CameraMove(pan=1)
TILT_UP, TILT_DOWN = CameraMove(tilt=-1), CameraMove(tilt=1)


def at(move: CameraMove, speed: Speed) -> CameraMove:
    return CameraMove(move.zoom, move.zoom_style, move.pan, move.tilt, speed)


PHRASINGS = [
    ("zoom in", ZOOM_IN),
    ("Slowly zoom in on the lighthouse", at(ZOOM_IN, SLOW)),
    ("the camera zooms into her eyes", ZOOM_IN),
    ("zooming out to reveal the valley", ZOOM_OUT),
    ("quick zoom out", at(ZOOM_OUT, FAST)),
    ("crash zoom on the face", at(ZOOM_IN, FAST)),
    ("push in on the actor", DOLLY_IN),
    ("the camera gently pushes in", at(DOLLY_IN, SLOW)),
    ("dolly in", DOLLY_IN),
    ("a dolly-in shot of the door", DOLLY_IN),
    ("move closer to the fire", DOLLY_IN),
    ("the camera glides forward through the forest", DOLLY_IN),
    ("pull back to reveal the city", DOLLY_OUT),
    ("pull out", DOLLY_OUT),
    ("dolly out rapidly", at(DOLLY_OUT, FAST)),
    ("the camera moves away from the house", DOLLY_OUT),
    ("pan left", PAN_LEFT),
    ("The camera pans slowly to the left", at(PAN_LEFT, SLOW)),
    ("pan right across the skyline", PAN_RIGHT),
    ("track left along the wall", PAN_LEFT),
    ("truck right", PAN_RIGHT),
    ("whip pan to the right", at(PAN_RIGHT, FAST)),
    ("camera slides leftwards", PAN_LEFT),
    ("tilt up to the sky", TILT_UP),
    ("tilt down", TILT_DOWN),
    ("pan up the tower", TILT_UP),
    ("the camera rises over the rooftops", TILT_UP),
    ("camera moves up", TILT_UP),
    ("camera descends toward the street", TILT_DOWN),
    ("crane down quickly", at(TILT_DOWN, FAST)),
    ("gently zoom in while panning right", CameraMove(zoom=1, pan=1, speed=SLOW)),
    ("pan left and tilt up", CameraMove(pan=-1, tilt=-1)),
    ("A fast car races by. The camera slowly pans right", at(PAN_RIGHT, SLOW)),
    ("zoom in, then zoom out", ZOOM_IN),
    ("static camera, leaves rustle in the wind", STATIC),
    ("a locked-off shot of a harbour", STATIC),
    ("the camera remains still while snow falls", STATIC),
    ("a cat sleeping on a sofa", DEFAULT_MOVE),
    ("a panorama of the mountains", DEFAULT_MOVE),
    ("tall grass moving in the wind", DEFAULT_MOVE),
    ("clouds drifting to the right over a fast river", DEFAULT_MOVE),
    ("a ship approaching the harbour", DEFAULT_MOVE),
    ("the camera approaches the ship", DOLLY_IN),
    ("the camera flies forward over the canyon", DOLLY_IN),
    ("the camera drifts back", DOLLY_OUT),
    ("", DEFAULT_MOVE),
]


@pytest.mark.parametrize(("prompt", "expected"), PHRASINGS, ids=[p or "empty" for p, _ in PHRASINGS])
def test_prompt_wording_becomes_a_camera_move(prompt: str, expected: CameraMove) -> None:
    assert parse_camera_move(prompt) == expected


def test_the_default_is_a_slow_push_in() -> None:
    assert parse_camera_move("a quiet street at dusk") == CameraMove(zoom=1, zoom_style=DOLLY, speed=SLOW)
    assert DEFAULT_MOVE.describe() == "slow dolly in"


def test_speed_sets_how_far_a_move_goes() -> None:
    ends = {speed: plan_camera([(at(ZOOM_IN, speed), 5.0)]).paths[0].end.zoom for speed in Speed}
    assert 1 < ends[Speed.SLOW] < ends[Speed.NORMAL] < ends[Speed.FAST] <= MAX_ZOOM


def test_dolly_differs_from_zoom_in_travel_and_profile() -> None:
    lens, dolly = (plan_camera([(move, 5.0)]).paths[0] for move in (ZOOM_IN, DOLLY_IN))
    assert dolly.end.zoom > lens.end.zoom
    share_at_half = {
        name: math.log(path.at(0.5).zoom) / math.log(path.end.zoom) for name, path in (("lens", lens), ("dolly", dolly))
    }
    assert share_at_half["lens"] == pytest.approx(0.5)
    assert share_at_half["dolly"] < 0.47, "an approach magnifies slowly first, then faster"


def test_moves_ease_in_and_out() -> None:
    path = plan_camera([(ZOOM_IN, 4.0)]).paths[0]
    early = math.log(path.at(0.05).zoom / path.at(0.0).zoom)
    middle = math.log(path.at(0.525).zoom / path.at(0.475).zoom)
    assert early < middle / 5


def test_first_moves_start_where_they_have_room() -> None:
    zoom_out = plan_camera([(ZOOM_OUT, 5.0)]).paths[0]
    assert zoom_out.start.zoom > 1 and zoom_out.end.zoom == pytest.approx(1)
    pan = plan_camera([(PAN_LEFT, 5.0)]).paths[0]
    assert pan.start.zoom == pytest.approx(pan.end.zoom) and pan.start.zoom > 1
    assert pan.start.center_x > 0.5 > pan.end.center_x
    assert pan.end.center_x - 0.5 / pan.end.zoom == pytest.approx(0, abs=1e-9), "travels to the picture's edge"
    assert opening_state(STATIC, 5.0) == CameraState(1.0, 0.5, 0.5)


def test_a_zoom_out_after_a_pan_still_reveals_the_whole_picture() -> None:
    pan, zoom_out = plan_camera([(PAN_LEFT, 3.0), (at(ZOOM_OUT, FAST), 3.0)]).paths
    assert pan.end.zoom > 1 and pan.end.center_x < 0.5
    assert zoom_out.end == CameraState(1.0, 0.5, 0.5)


def test_a_pan_from_the_full_view_zooms_in_to_make_room() -> None:
    zoom_out, pan = plan_camera([(ZOOM_OUT, 3.0), (PAN_RIGHT, 3.0)]).paths
    assert zoom_out.end.zoom == pytest.approx(1)
    assert pan.end.zoom > 1 and pan.end.center_x > 0.5


def view_inside_picture(state: CameraState) -> bool:
    half = 0.5 / state.zoom
    eps = 1e-9
    return (
        1 - eps <= state.zoom <= MAX_ZOOM + eps
        and -eps <= state.center_x - half
        and state.center_x + half <= 1 + eps
        and -eps <= state.center_y - half
        and state.center_y + half <= 1 + eps
    )


def test_clamping_keeps_any_view_inside_the_picture() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        wild = CameraState(rng.uniform(0.2, 6), rng.uniform(-1, 2), rng.uniform(-1, 2))
        assert view_inside_picture(wild.clamped())


ALL_MOVES = [expected for _, expected in PHRASINGS] + [at(DOLLY_OUT, FAST), CameraMove(zoom=-1, pan=1, tilt=1)]


def test_no_chain_of_moves_ever_leaves_the_picture_or_jumps() -> None:
    rng = random.Random(11)
    for _ in range(300):
        plan = [(rng.choice(ALL_MOVES), rng.choice([0.5, 1.0, 2.5, 5.0, 15.0])) for _ in range(rng.randint(1, 4))]
        timeline = plan_camera(plan)
        samples = [timeline.at(timeline.total_seconds * step / 400) for step in range(401)]
        assert all(view_inside_picture(state) for state in samples), plan
        for before, after in itertools.pairwise(samples):
            assert abs(math.log(after.zoom / before.zoom)) < 0.02, plan
            assert abs(after.center_x - before.center_x) < 0.01 and abs(after.center_y - before.center_y) < 0.01
        for path, following in itertools.pairwise(timeline.paths):
            assert following.start == path.end, "each segment starts where the previous one ended"


def test_fill_box_crops_to_the_aspect_without_stretching() -> None:
    for source in [(1920, 1080), (1000, 2000), (1024, 768), (500, 500)]:
        for width, height in OUTPUT_SIZES.values():
            left, top, right, bottom = fill_box(source, width / height)
            assert (right - left) / (bottom - top) == pytest.approx(width / height)
            assert left >= 0 and top >= 0 and right <= source[0] + 1e-9 and bottom <= source[1] + 1e-9
            assert (left + right) / 2 == pytest.approx(source[0] / 2)
            assert (top + bottom) / 2 == pytest.approx(source[1] / 2)
            assert math.isclose(right - left, source[0]) or math.isclose(bottom - top, source[1])


def transitions(line: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(line > 128)))


def test_rendered_views_keep_squares_square() -> None:
    y, x = np.mgrid[0:1000, 0:2000]
    checker = (((x // 50) + (y // 50)) % 2 * 255).astype(np.uint8)
    renderer = FrameRenderer(Image.fromarray(checker).convert("RGB"), OUTPUT_SIZES["9:16"])
    frame = renderer.render_rgb(CameraState(1.0, 0.5, 0.5))[..., 0]
    per_pixel_across = transitions(frame[640, :]) / frame.shape[1]
    per_pixel_down = transitions(frame[:, 360]) / frame.shape[0]
    assert per_pixel_across == pytest.approx(per_pixel_down, rel=0.1)


def pillow_box_render(
    image: Image.Image, size: tuple[int, int], max_zoom: float, state: CameraState
) -> tuple[np.ndarray, Yuv420pPlanes]:
    """A view as the renderer drew it before OpenCV: the picture pre-scaled in RGB with Lanczos, converted once,
    chroma box-averaged to half size, then a Pillow BILINEAR box resize of every plane for every frame."""
    width, height = size
    box = fill_box(image.size, width / height)
    scale = min(max(min(max_zoom, (box[2] - box[0]) / width), 1.0), MAX_PRESCALE)
    scaled = (max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2)))
    source = image.resize(scaled, Image.Resampling.LANCZOS, box=box, reducing_gap=PRESCALE_REDUCING_GAP)
    half = 0.5 / state.zoom
    view = (
        max(0.0, (state.center_x - half) * scaled[0]),
        max(0.0, (state.center_y - half) * scaled[1]),
        min(float(scaled[0]), (state.center_x + half) * scaled[0]),
        min(float(scaled[1]), (state.center_y + half) * scaled[1]),
    )
    half_view, half_size = tuple(edge / 2 for edge in view), (width // 2, height // 2)
    luma, u, v = rgb_image_to_yuv(source)
    planes = (
        luma.resize(size, Image.Resampling.BILINEAR, box=view),
        u.reduce(2).resize(half_size, Image.Resampling.BILINEAR, box=half_view),
        v.reduce(2).resize(half_size, Image.Resampling.BILINEAR, box=half_view),
    )
    rgb = source.resize(size, Image.Resampling.BILINEAR, box=view)
    return np.asarray(rgb), tuple(np.asarray(plane) for plane in planes)  # type: ignore[return-value]


@pytest.mark.parametrize("source_size", [(2560, 1440), (1600, 1000), (800, 600)])
@pytest.mark.parametrize("aspect_ratio", ["16:9", "9:16"])
def test_frames_match_the_pillow_renderer_they_replaced(source_size: tuple[int, int], aspect_ratio: str) -> None:
    image, size = photo_like(*source_size), OUTPUT_SIZES[aspect_ratio]
    renderer = FrameRenderer(image, size, max_zoom=2.0)
    # From the widest view (shrinking the pre-scaled picture up to 2:1, where anti-aliasing matters) to the
    # closest (1:1), centred and not.
    for state in [CameraState(1.0, 0.5, 0.5), CameraState(1.3, 0.41, 0.57), CameraState(1.7, 0.6, 0.45)]:
        state = state.clamped()
        expected_rgb, expected_planes = pillow_box_render(image, size, 2.0, state)
        rendered = (renderer.render_rgb(state), *renderer.render_yuv420p(state))
        for name, got, expected in zip(("rgb", "y", "u", "v"), rendered, (expected_rgb, *expected_planes), strict=True):
            assert got.shape == expected.shape, name
            difference = np.abs(got.astype(int) - expected)
            assert difference.mean() < 1.0, (name, state)
            assert np.percentile(difference, 99.9) <= 6, (name, state)


def test_views_that_shrink_the_picture_do_not_alias() -> None:
    # Stripes 2.5 px apart, shown at 2:1: finer than the output can hold, so they must fade to grey rather than
    # fold into a coarse beat (plain bilinear sampling leaves a beat of about a third of their contrast).
    stripes = (128 + 100 * np.cos(2 * np.pi * np.arange(2560) / 2.5)).astype(np.uint8)
    picture = Image.fromarray(np.repeat(np.tile(stripes, (1440, 1))[..., None], 3, axis=2))
    renderer = FrameRenderer(picture, (1280, 720), max_zoom=2.0)
    widest = CameraState(1.0, 0.5, 0.5)
    expected_rgb, (expected_luma, _, _) = pillow_box_render(picture, (1280, 720), 2.0, widest)
    for got, expected in (
        (renderer.render_rgb(widest), expected_rgb),
        (renderer.render_yuv420p(widest)[0], expected_luma),
    ):
        assert got.std() < 0.1 * stripes.std()
        assert got.std() < expected.std() + 3


def test_every_frame_gets_planes_of_its_own() -> None:
    frames = list(generate(request("zoom in", 1)).frames.iter_yuv420p())
    for before, after in itertools.pairwise(frames):
        assert not any(np.shares_memory(a, b) for a, b in zip(before, after, strict=True))
    assert not np.array_equal(frames[0][0], frames[-1][0])


def request(prompt: str = "zoom in", duration: int = 1, aspect_ratio: str = "16:9", image=None, segments=None):
    return GenerationRequest(
        prompt=prompt,
        segments=segments or [Segment(prompt, float(duration))],
        duration=duration,
        aspect_ratio=aspect_ratio,
        image=photo_like(640, 480) if image is None else image,
    )


def generate(req: GenerationRequest, should_stop=lambda: False, progress=lambda fraction: None) -> GeneratedVideo:
    return MotionEngine().generate(req, progress, should_stop)


def test_the_engine_is_honest_about_what_it_is() -> None:
    engine = MotionEngine()
    assert engine.name == "motion"
    assert engine.capabilities.as_dict() == {
        "generative": False,
        "sound": False,
        "voices": False,
        "end_frame": False,
        "text_to_video": False,
        "multi_prompt": True,
    }
    engine.start()
    engine.close()


def test_an_image_is_required() -> None:
    without_image = GenerationRequest(
        prompt="zoom in", segments=[Segment("zoom in", 5.0)], duration=5, aspect_ratio="16:9"
    )
    with pytest.raises(EngineError, match=r"^the motion engine animates a still image and needs `image`$"):
        generate(without_image)
    with pytest.raises(InputError) as refused:
        MotionEngine().check(without_image)
    assert refused.value.param == "image"
    with pytest.raises(InputError) as refused:
        MotionEngine().check(request(aspect_ratio="4:3"))
    assert refused.value.param == "aspect_ratio"
    MotionEngine().check(request())


@pytest.mark.parametrize("aspect_ratio", list(OUTPUT_SIZES))
@pytest.mark.parametrize("duration", [1, 2])
def test_frames_have_the_output_size_and_24_per_second(aspect_ratio: str, duration: int) -> None:
    width, height = OUTPUT_SIZES[aspect_ratio]
    video = generate(request("pan right", duration, aspect_ratio))
    assert (video.width, video.height, video.fps, video.frame_count) == (width, height, 24, duration * 24)
    shapes = Counter((frame.shape, frame.dtype) for frame in video.frames)
    assert shapes == {((height, width, 3), np.dtype(np.uint8)): duration * 24}
    half = (height // 2, width // 2)
    plane_shapes = Counter(tuple(plane.shape for plane in planes) for planes in video.frames.iter_yuv420p())
    assert plane_shapes == {((height, width), half, half): duration * 24}


def test_planes_for_the_encoder_show_the_same_picture_as_rgb_frames() -> None:
    video = generate(request("slowly pan left and zoom in", 1, image=photo_like(1600, 1000)))
    for rgb, (luma, u, v) in itertools.islice(zip(video.frames, video.frames.iter_yuv420p(), strict=True), 0, 24, 7):
        expected_luma, expected_u, expected_v = rgb_to_yuv_planes(rgb)
        assert np.abs(luma.astype(int) - expected_luma).mean() < 1.0
        for chroma, expected in ((u, expected_u), (v, expected_v)):
            expected_half = expected.reshape(chroma.shape[0], 2, chroma.shape[1], 2).mean(axis=(1, 3))
            assert np.abs(chroma - expected_half).mean() < 1.5


@pytest.mark.parametrize("aspect_ratio", list(OUTPUT_SIZES))
def test_encoded_clips_probe_as_promised(tmp_path: Path, aspect_ratio: str) -> None:
    width, height = OUTPUT_SIZES[aspect_ratio]
    path = tmp_path / "clip.mp4"
    info = encode_mp4(generate(request("slow zoom out", 1, aspect_ratio)), path)
    probed = probe_mp4(path)
    assert (probed.width, probed.height, probed.frame_count, probed.fps) == (width, height, 24, 24)
    assert (probed.video_codec, probed.pixel_format, probed.has_audio) == ("h264", "yuv420p", False)
    assert info.duration_seconds == probed.duration_seconds == pytest.approx(1.0)


def test_a_five_second_clip_is_120_frames(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    encode_mp4(generate(request("push in", 5, image=photo_like(1920, 1080))), path)
    probed = probe_mp4(path)
    assert (probed.width, probed.height, probed.frame_count) == (1280, 720, 120)
    assert probed.duration_seconds == pytest.approx(5.0)


def test_small_pictures_are_scaled_up_to_the_output_size() -> None:
    frames = list(generate(request("zoom in", 1, "9:16", image=photo_like(200, 150))).frames)
    assert frames[0].shape == (1280, 720, 3)


def test_the_same_request_renders_the_same_frames() -> None:
    first, second = (list(generate(request("pan left", 1)).frames) for _ in range(2))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


def test_zoom_in_magnifies_the_centre() -> None:
    video = generate(request("quickly zoom in", 3, image=photo_like(1280, 720)))
    frames = list(video.frames)
    first, last = frames[0], frames[-1]
    path = plan_camera([(parse_camera_move("quickly zoom in"), 3.0)]).paths[0]
    magnification = path.end.zoom / path.start.zoom
    assert magnification > 1.25
    height, width = first.shape[:2]
    crop_w, crop_h = width / magnification, height / magnification
    box = ((width - crop_w) / 2, (height - crop_h) / 2, (width + crop_w) / 2, (height + crop_h) / 2)
    predicted = np.asarray(Image.fromarray(first).resize((width, height), Image.Resampling.BILINEAR, box=box))
    assert mean_difference(last, predicted) < 0.3 * mean_difference(last, first)


def test_zooms_move_smoothly_at_sub_pixel_precision() -> None:
    pixels = np.full((1080, 1920, 3), 30, np.uint8)
    pixels[:, 1500:1540] = 220
    frames = generate(request("slow zoom in", 3, image=Image.fromarray(pixels))).frames
    positions = []
    for frame in frames:
        weight = frame[360, :, 0].astype(float) - 30
        positions.append((weight * np.arange(len(weight))).sum() / weight.sum())
    assert positions[-1] - positions[0] > 20, "the band moved outwards"
    # ffmpeg's zoompan, cropping whole pixels, scores about 0.9 mean and 2.5 max on this measure.
    speed_changes = np.abs(np.diff(positions, 2))
    assert speed_changes.mean() < 0.05 and speed_changes.max() < 0.2, "no whole-pixel steps"


def smooth_texture(width: int = 1600, height: int = 900) -> Image.Image:
    """Non-repeating blobs on a left-to-right, top-to-bottom brightness ramp."""
    noise = np.random.default_rng(2).integers(0, 256, (height // 8, width // 8), dtype=np.uint8)
    blobs = np.asarray(Image.fromarray(noise).resize((width, height), Image.Resampling.BICUBIC)).astype(float)
    y, x = np.mgrid[0:height, 0:width]
    ramp = 60 * x / width + 60 * y / height
    gray = np.clip(0.6 * blobs + ramp, 0, 255).astype(np.uint8)
    return Image.fromarray(gray).filter(ImageFilter.GaussianBlur(2)).convert("RGB")


def content_shift(before: np.ndarray, after: np.ndarray, axis: int) -> int:
    """How many pixels the content moved along an axis (positive: right or down)."""
    profile_before = before.mean(axis=(1 - axis, 2))
    profile_after = after.mean(axis=(1 - axis, 2))
    profile_before = profile_before - profile_before.mean()
    profile_after = profile_after - profile_after.mean()
    span = len(profile_before) // 4
    scores = {
        shift: float(np.dot(profile_before[span - shift : -span - shift], profile_after[span:-span]))
        for shift in range(-span + 1, span)
    }
    return max(scores, key=scores.get)


@pytest.mark.parametrize(
    ("prompt", "axis", "direction"),
    [("pan left", 1, +1), ("pan right", 1, -1), ("tilt up", 0, +1), ("tilt down", 0, -1)],
)
def test_pans_and_tilts_move_the_content_the_right_way(prompt: str, axis: int, direction: int) -> None:
    frames = list(generate(request(prompt, 2, image=smooth_texture())).frames)
    shift = content_shift(frames[0], frames[-1], axis)
    assert shift * direction > 10, f"{prompt}: content moved {shift} px along axis {axis}"
    brightening = frames[-1].mean() - frames[0].mean()
    assert brightening * direction < 0, "left and top of the ramp are darker: the view moved that way or away"


def test_motion_is_continuous_across_a_multi_prompt_cut() -> None:
    segments = [Segment("zoom in quickly", 1.5), Segment("pan left quickly", 1.5)]
    video = generate(request("", 3, image=smooth_texture(), segments=segments))
    frames = list(video.frames)
    steps = [mean_difference(a, b) for a, b in itertools.pairwise(frames)]
    cut = round(1.5 * 24 * (len(frames) - 1) / len(frames))
    at_cut = max(steps[cut - 1 : cut + 1])
    assert at_cut <= float(np.median(steps)), f"cut step {at_cut:.2f}, steps {np.round(steps, 2)}"
    assert max(steps) < 3 * float(np.median(steps)), "no jump anywhere"
    assert max(steps) > 5, "the camera did move"


def test_segment_durations_are_fitted_to_the_request() -> None:
    segments = [Segment("pan left", 1.0), Segment("zoom in", 3.0)]
    video = generate(request("", 2, segments=segments))
    assert video.frame_count == 48 and len(list(video.frames)) == 48


def test_progress_runs_to_one_as_frames_are_made() -> None:
    reported: list[float] = []
    video = generate(request("tilt up", 1), progress=reported.append)
    assert reported == [], "nothing is rendered before the frames are asked for"
    iterator = iter(video.frames)
    next(iterator)
    assert reported == [pytest.approx(1 / 24)]
    list(iterator)
    assert reported == sorted(reported) and reported[-1] == 1.0 and len(reported) == 24


def test_should_stop_interrupts_rendering(tmp_path: Path) -> None:
    calls = itertools.count(1)
    video = generate(request("zoom in", 2), should_stop=lambda: next(calls) > 5)
    rendered = 0
    with pytest.raises(JobInterrupted):
        for _ in video.frames:
            rendered += 1
    assert rendered == 5

    calls = itertools.count(1)
    video = generate(request("zoom in", 2), should_stop=lambda: next(calls) > 10)
    with pytest.raises(JobInterrupted):
        encode_mp4(video, tmp_path / "clip.mp4")
    assert not (tmp_path / "clip.mp4").exists()
