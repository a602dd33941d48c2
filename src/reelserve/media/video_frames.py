"""Reading frames back out of an MP4, for checks on what a user actually receives."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def sampled_frames(path: Path, indices: list[int]) -> list[np.ndarray]:
    """The frames at `indices` (0-based, in order) as HxWx3 uint8 RGB arrays."""
    wanted = set(indices)
    found: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                found.append(frame.to_ndarray(format="rgb24"))
            if index >= max(wanted, default=-1):
                break
    return found
