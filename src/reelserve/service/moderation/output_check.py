"""The check a worker runs on each finished video: sampled frames through the image classifier."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reelserve.errors import ContentPolicyViolation
from reelserve.media.video_frames import sampled_frames
from reelserve.service.moderation.content_policy import ContentPolicy
from reelserve.service.moderation.frames import sample_indices

FRAMES_CHECKED = 4

OutputFlagger = Callable[[Path, int], bool]
"""(path of the MP4, its frame count) -> has_nsfw_contents for it; raises ContentPolicyViolation to block."""


def output_flagger(policy: ContentPolicy) -> OutputFlagger:
    def flag(path: Path, frame_count: int) -> bool:
        if policy.classifier is None:
            return False
        flagged = policy.score_output_frames(sampled_frames(path, sample_indices(frame_count, FRAMES_CHECKED)))
        if flagged and policy.block_unsafe_outputs:
            raise ContentPolicyViolation("the generated video was blocked by this server's content policy")
        return flagged

    return flag
