"""Photo-like test images made on the spot: smooth gradients plus detail, so motion is visible."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def photo_like(width: int = 1024, height: int = 768, seed: int = 7) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    red = 128 + 100 * np.sin(x / 37.0) * np.cos(y / 53.0)
    green = 255 * x / max(1, width - 1)
    blue = 255 * y / max(1, height - 1)
    pixels = np.stack([red, green, blue], axis=-1) + rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def image_bytes(width: int = 1024, height: int = 768, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    photo_like(width, height).save(buffer, format=fmt)
    return buffer.getvalue()


def scene(width: int = 1280, height: int = 720) -> Image.Image:
    """A drawn landscape (sky, sun, mountains, a lake): a picture a person would animate, for the studio's
    screenshots."""
    from PIL import ImageDraw, ImageFilter

    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    top, bottom = np.array([38, 52, 120]), np.array([250, 170, 120])
    sky = (top + (bottom - top) * y[..., None] ** 0.8) * np.ones((1, width, 1))
    picture = Image.fromarray(sky.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(picture)
    sun_x, sun_y, radius = int(width * 0.68), int(height * 0.42), int(height * 0.09)
    draw.ellipse((sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius), fill=(255, 226, 150))
    rng = np.random.default_rng(3)
    for layer, (colour, base, rough) in enumerate(
        [((92, 74, 120), 0.55, 0.18), ((58, 48, 92), 0.64, 0.14), ((30, 34, 60), 0.72, 0.08)]
    ):
        xs = np.linspace(0, width, 14)
        ys = height * (base - rough * rng.random(14)) + layer * 4
        draw.polygon([(0, height), *zip(xs.tolist(), ys.tolist(), strict=True), (width, height)], fill=colour)
    lake_top = int(height * 0.78)
    draw.rectangle((0, lake_top, width, height), fill=(44, 62, 104))
    for row in range(lake_top + 6, height, 9):
        half = int(radius * (1.2 - (row - lake_top) / (height - lake_top)))
        draw.line((sun_x - half, row, sun_x + half, row), fill=(236, 190, 140), width=2)
    return picture.filter(ImageFilter.GaussianBlur(1.2))


def scene_bytes(width: int = 1280, height: int = 720, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    scene(width, height).save(buffer, format=fmt, quality=90)
    return buffer.getvalue()
