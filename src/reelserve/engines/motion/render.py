"""Rendering camera views of a still picture at the output size, as RGB or as yuv420p planes.

The picture is cropped to the output's aspect ratio (never stretched) and pre-scaled once, with
Lanczos, to the output size times the largest zoom the camera will reach (bounded by what the source
resolution holds and by MAX_PRESCALE). Each frame is then one bilinear resample of a fractional box of
that pre-scaled picture: sub-pixel exact, so slow moves glide without stepping, and never upscaling
the source more than it must.

For the encoder the same views are rendered straight into Y, U, V planes (the picture is converted to
BT.709 once, up front; chroma is resampled from a half-resolution copy at the same scale), which costs
about half of rendering RGB and converting every frame.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from PIL import Image

from reelserve.engines.motion.path import CameraState
from reelserve.media.video import Yuv420pPlanes, rgb_image_to_yuv

OUTPUT_SIZES: dict[str, tuple[int, int]] = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (960, 960)}
MAX_PRESCALE = 2.0
PRESCALE_REDUCING_GAP = 3.0  # Pillow shrinks big photos by an integer factor first, then Lanczos

Box = tuple[float, float, float, float]


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
    """Views of one picture at one output size."""

    def __init__(self, image: Image.Image, size: tuple[int, int], max_zoom: float = 1.0) -> None:
        self.size = size
        width, height = size
        box = fill_box(image.size, width / height)
        detail = (box[2] - box[0]) / width  # source pixels per output pixel at zoom 1
        scale = min(max(min(max_zoom, detail), 1.0), MAX_PRESCALE)
        self.source = image.convert("RGB").resize(
            (_even(width * scale), _even(height * scale)),
            Image.Resampling.LANCZOS,
            box=box,
            reducing_gap=PRESCALE_REDUCING_GAP,
        )

    def render_rgb(self, state: CameraState) -> np.ndarray:
        return np.asarray(self.source.resize(self.size, Image.Resampling.BILINEAR, box=self._view(state)))

    def render_yuv420p(self, state: CameraState) -> Yuv420pPlanes:
        luma, chroma_u, chroma_v = self._yuv_sources
        width, height = self.size
        box = self._view(state)
        half_box = (box[0] / 2, box[1] / 2, box[2] / 2, box[3] / 2)
        half_size = (width // 2, height // 2)
        return (
            np.asarray(luma.resize(self.size, Image.Resampling.BILINEAR, box=box)),
            np.asarray(chroma_u.resize(half_size, Image.Resampling.BILINEAR, box=half_box)),
            np.asarray(chroma_v.resize(half_size, Image.Resampling.BILINEAR, box=half_box)),
        )

    @cached_property
    def _yuv_sources(self) -> tuple[Image.Image, Image.Image, Image.Image]:
        """Full-resolution Y, and U, V at half the (even) pre-scaled size, so half a box maps onto them."""
        luma, chroma_u, chroma_v = rgb_image_to_yuv(self.source)
        return luma, chroma_u.reduce(2), chroma_v.reduce(2)

    def _view(self, state: CameraState) -> Box:
        """The camera's window in pre-scaled source pixels."""
        width, height = self.source.size
        half = 0.5 / state.zoom
        return (
            max(0.0, (state.center_x - half) * width),
            max(0.0, (state.center_y - half) * height),
            min(float(width), (state.center_x + half) * width),
            min(float(height), (state.center_y + half) * height),
        )


def _even(length: float) -> int:
    return max(2, 2 * round(length / 2))
