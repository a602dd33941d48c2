"""Content policy: prompt text rules, and an optional image classifier for inputs and outputs.

The submit path calls `ContentPolicy.check_params` (or `check_texts`) and `check_input_image`
before anything is charged or queued; the worker calls `score_output_frames` on frames picked by
`sample_frames` (or `sample_indices` while streaming) to set `has_nsfw_contents`.
"""

from reelserve.service.moderation.content_policy import ContentPolicy
from reelserve.service.moderation.frames import sample_frames, sample_indices
from reelserve.service.moderation.image_classifier import DEFAULT_THRESHOLD, DEFAULT_UNSAFE_LABELS, ImageClassifier
from reelserve.service.moderation.text_policy import PolicyMatch, TextPolicy, blocked_message, prompt_texts

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_UNSAFE_LABELS",
    "ContentPolicy",
    "ImageClassifier",
    "PolicyMatch",
    "TextPolicy",
    "blocked_message",
    "prompt_texts",
    "sample_frames",
    "sample_indices",
]
