"""A poster for each video: one of its frames as a JPEG, for lists of videos and players before they load."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from reelserve.media.video_frames import sampled_frames

JPEG_QUALITY = 85


def poster_jpeg(path: Path, frame_count: int) -> bytes:
    """The frame a third of the way in: past a fade-in, and showing the motion under way."""
    frames = sampled_frames(path, [max(0, frame_count // 3)])
    if not frames:
        raise ValueError(f"{path} has no decodable frame")
    out = io.BytesIO()
    Image.fromarray(frames[0]).save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()
