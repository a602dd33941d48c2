"""Which frames of an output video the image classifier looks at."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

Frame = TypeVar("Frame")


def sample_indices(total: int, count: int = 4) -> list[int]:
    """`count` evenly spaced indices into `total` frames, first and last included (fewer when short).

    For frames that stream past once: keep the frames at these indices as they go by.
    """
    if total <= 0 or count <= 0:
        return []
    if count == 1:
        return [0]
    if count >= total:
        return list(range(total))
    return list(dict.fromkeys(round(i * (total - 1) / (count - 1)) for i in range(count)))


def sample_frames(frames: Sequence[Frame], count: int = 4) -> list[Frame]:
    return [frames[index] for index in sample_indices(len(frames), count)]
