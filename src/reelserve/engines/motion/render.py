"""Rendering camera views of a still picture at the output size, as RGB or as yuv420p planes.

The picture is cropped to the output's aspect ratio (never stretched) and pre-scaled once, with
Lanczos, to the output size times the largest zoom the camera will reach (bounded by what the source
resolution holds and by MAX_PRESCALE). Each frame is then one bilinear resample of a fractional box of
that pre-scaled picture: sub-pixel exact, so slow moves glide without stepping, and never upscaling
the source more than it must.

The per-frame resample is OpenCV's warpAffine: SIMD, a few milliseconds a frame, and outside the GIL, so
it overlaps x264's threads. Where the view shrinks the picture (towards a zoom's wide end, by up to
MAX_PRESCALE), the box is first blurred as much as Pillow's box resize (the resampler before this one)
would have blurred it, so that the shrinking does not alias (see `_antialias_variance`).

For the encoder the same views are rendered straight into Y, U, V planes (the picture is converted to
BT.709 once, up front; chroma is resampled from a half-resolution copy at the same scale), into the
encoder's own frames, which costs about half of rendering RGB and converting every frame.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from functools import cache, cached_property
from types import ModuleType

import numpy as np
from PIL import Image

from reelserve.engines.motion.path import CameraState
from reelserve.media.video import BT709_LIMITED_MATRIX, Yuv420pPlanes, new_yuv420p_planes

OUTPUT_SIZES: dict[str, tuple[int, int]] = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (960, 960)}
MAX_PRESCALE = 2.0
PRESCALE_REDUCING_GAP = 3.0  # Pillow shrinks big photos by an integer factor first, then Lanczos
UNBLURRED_VARIANCE = 0.04  # px^2 of the anti-alias blur left out, so that it starts at scale 1.12 (see below)
MIN_BLUR_TAP = 1 / 1024  # an anti-alias blur this light moves no pixel by half a level: skipped
MAX_PASS_VARIANCE = 0.5  # [1/4, 1/2, 1/4], the widest 3-tap blur; wider blurs repeat it
_BT709_LIMITED = np.array(BT709_LIMITED_MATRIX).reshape(3, 4)  # R'G'B' -> Y'CbCr, as cv2.transform takes it

Box = tuple[float, float, float, float]


@cache
def opencv() -> ModuleType:
    """OpenCV, imported on first use (MotionEngine.start, or the first picture): it adds some 23 MB to a process,
    which one that only serves the API need not carry."""
    import cv2

    # One frame's resample is a millisecond or two, made while x264's threads keep every core busy: OpenCV's
    # own worker pool would only compete with them (and spin while it waits), costing CPU for the same frames.
    cv2.setNumThreads(1)
    return cv2


def output_size(aspect_ratio: str) -> tuple[int, int]:
    try:
        return OUTPUT_SIZES[aspect_ratio]
    except KeyError:
        raise ValueError(
            f"unsupported aspect ratio {aspect_ratio!r}; choose one of {', '.join(OUTPUT_SIZES)}"
        ) from None


def fill_box(source_size: tuple[int, int], aspect: float) -> Box:
    """The largest centred box of the source with the given width/height ratio."""
    width, height = source_size
    if width / height > aspect:
        crop_width = height * aspect
        return ((width - crop_width) / 2, 0.0, (width + crop_width) / 2, float(height))
    crop_height = width / aspect
    return (0.0, (height - crop_height) / 2, float(width), (height + crop_height) / 2)


class FrameRenderer:
    """Views of one picture at one output size. Not thread-safe: render one frame at a time."""

    def __init__(self, image: Image.Image, size: tuple[int, int], max_zoom: float = 1.0) -> None:
        self.size = size
        width, height = size
        self.image = image
        self.box = fill_box(image.size, width / height)
        detail = (self.box[2] - self.box[0]) / width  # source pixels per output pixel at zoom 1
        scale = min(max(min(max_zoom, detail), 1.0), MAX_PRESCALE)
        self.source_size = (_even(width * scale), _even(height * scale))
        # The widest view (zoom 1) shrinks the pre-scaled picture the most.
        self.max_scale = max(self.source_size[0] / width, self.source_size[1] / height)

    def render_rgb(self, state: CameraState) -> np.ndarray:
        width, height = self.size
        frame = np.empty((height, width, 3), np.uint8)
        self._rgb(self._view(state), frame)
        return frame

    def render_yuv420p(self, state: CameraState) -> Yuv420pPlanes:
        luma, chroma = self._yuv
        cv2 = opencv()
        planes = new_yuv420p_planes(*self.size)  # new for every frame: they are handed on, never reused
        box = self._view(state)
        luma(box, planes[0])
        chroma((box[0] / 2, box[1] / 2, box[2] / 2, box[3] / 2), self._chroma_out)
        cv2.mixChannels([self._chroma_out], [planes[1], planes[2]], [0, 0, 1, 1])
        return planes

    def prescaled(self) -> np.ndarray:
        """The picture cropped and pre-scaled with Lanczos, as an RGB array.

        Made in two halves side by side (Pillow releases the GIL): nothing else can start before it is done.
        """
        image = self.image if self.image.mode == "RGB" else self.image.convert("RGB")
        image.load()  # once, here: two threads must not both decode a lazily opened file
        width, height = self.source_size
        left, top, right, bottom = self.box
        cut = height // 2
        middle = top + (bottom - top) * cut / height
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="motion-prescale") as pool:
            upper = pool.submit(_lanczos, image, (width, cut), (left, top, right, middle))
            lower = _lanczos(image, (width, height - cut), (left, middle, right, bottom))
            return np.vstack([upper.result(), lower])

    @cached_property
    def _rgb(self) -> BoxResampler:
        return BoxResampler(self.prescaled(), self.max_scale)

    @cached_property
    def _yuv(self) -> tuple[BoxResampler, BoxResampler]:
        """Y at the pre-scaled size, and U, V box-averaged to half of it (even), so half a box maps onto them.

        U and V are kept interleaved as U, V, U, V: OpenCV resamples four channels in one pass in less time than
        one channel twice (it has no fast path for two).
        """
        cv2 = opencv()
        luma, chroma_u, chroma_v = cv2.split(cv2.transform(self.prescaled(), _BT709_LIMITED))
        width, height = self.source_size
        chroma_u, chroma_v = (
            cv2.resize(plane, (width // 2, height // 2), interpolation=cv2.INTER_AREA) for plane in (chroma_u, chroma_v)
        )
        chroma = cv2.merge([chroma_u, chroma_v, chroma_u, chroma_v])
        return BoxResampler(luma, self.max_scale), BoxResampler(chroma, self.max_scale)

    @cached_property
    def _chroma_out(self) -> np.ndarray:
        """Where U, V, U, V are resampled before being split into a frame's planes (so reused frame to frame)."""
        width, height = self.size
        return np.empty((height // 2, width // 2, 4), np.uint8)

    def _view(self, state: CameraState) -> Box:
        """The camera's window in pre-scaled source pixels."""
        width, height = self.source_size
        half = 0.5 / state.zoom
        return (
            max(0.0, (state.center_x - half) * width),
            max(0.0, (state.center_y - half) * height),
            min(float(width), (state.center_x + half) * width),
            min(float(height), (state.center_y + half) * height),
        )


class BoxResampler:
    """Renders fractional boxes of one picture into whole outputs, bilinearly and anti-aliased.

    Output pixel centres map to evenly spaced points across the box (where Pillow's box resize puts them).
    Where a box is larger than the output, the picture is blurred first (see `_antialias_variance`); blurs of
    that kind mix linearly, so the picture is blurred once, as much as the widest box (`max_scale` times the
    output) needs, and each frame mixes just its box of that with the sharp picture, in the proportion its
    own scale needs: one cheap pass instead of a filter pass per frame.
    """

    def __init__(self, picture: np.ndarray, max_scale: float) -> None:
        cv2 = opencv()
        self.picture = picture
        self.max_variance = _antialias_variance(max_scale)
        kernel = _antialias_kernel(self.max_variance)
        self.blurred = None
        if kernel is not None:
            self.blurred = cv2.sepFilter2D(picture, -1, kernel, kernel, borderType=cv2.BORDER_REPLICATE)
            self.mixed = np.empty_like(picture)

    def __call__(self, box: Box, out: np.ndarray) -> None:
        cv2 = opencv()
        height, width = out.shape[:2]
        left, top, right, bottom = box
        scale_x, scale_y = (right - left) / width, (bottom - top) / height
        # warpAffine's coordinates are pixel centres: output centre x + 0.5 lies at left + (x + 0.5) * scale.
        origin_x, origin_y = left + 0.5 * scale_x - 0.5, top + 0.5 * scale_y - 0.5
        source = self.picture
        variance = _antialias_variance(max(scale_x, scale_y))
        if self.blurred is not None and variance >= 2 * MIN_BLUR_TAP:
            # Only the part of the picture the box reads (bilinear taps reach one pixel past its edges).
            x0, y0 = max(0, math.floor(left) - 1), max(0, math.floor(top) - 1)
            x1, y1 = min(source.shape[1], math.ceil(right) + 2), min(source.shape[0], math.ceil(bottom) + 2)
            share = min(1.0, variance / self.max_variance)
            source = self.mixed[y0:y1, x0:x1]
            cv2.addWeighted(self.picture[y0:y1, x0:x1], 1 - share, self.blurred[y0:y1, x0:x1], share, 0, dst=source)
            origin_x, origin_y = origin_x - x0, origin_y - y0
        matrix = np.array([[scale_x, 0.0, origin_x], [0.0, scale_y, origin_y]])
        cv2.warpAffine(
            source,
            matrix,
            (width, height),
            dst=out,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )


def _lanczos(image: Image.Image, size: tuple[int, int], box: Box) -> np.ndarray:
    return np.asarray(image.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=PRESCALE_REDUCING_GAP))


def _antialias_variance(scale: float) -> float:
    """How much blur (px^2) a view shrinking the picture by `scale` needs before bilinear sampling.

    Bilinear interpolation is a triangle of half-width 1 px (variance 1/6 px^2); Pillow's box resize, which this
    replaced, filters with a triangle as wide as the scale (variance scale^2 / 6). The blur makes up the
    difference, less UNBLURRED_VARIANCE: it starts from nothing at scale 1.12 and grows with the scale, so no
    frame pops, and it is skipped where aliasing cannot show (below that scale the detail that could alias is
    the last tenth of the spectrum, which the Lanczos pre-scale has already damped).
    """
    return max(0.0, (scale * scale - 1.0) / 6.0 - UNBLURRED_VARIANCE)


def _antialias_kernel(variance: float) -> np.ndarray | None:
    """A blur of that variance as a column: [a, 1 - 2a, a] (variance 2a), convolved with itself where one is not
    enough; None where it would not change a pixel."""
    if variance < 2 * MIN_BLUR_TAP:
        return None
    passes = math.ceil(variance / MAX_PASS_VARIANCE)
    side = variance / passes / 2
    kernel = np.array([side, 1 - 2 * side, side])
    for _ in range(passes - 1):
        kernel = np.convolve(kernel, [side, 1 - 2 * side, side])
    return kernel.reshape(-1, 1)


def _even(length: float) -> int:
    return max(2, 2 * round(length / 2))
