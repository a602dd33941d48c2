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
