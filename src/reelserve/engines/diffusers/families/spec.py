"""What the server knows about a model family without loading it: defaults, rules, abilities.

Everything here is plain data, importable in the API process; the adapters that drive the real
pipelines (and import torch) live next to each spec and are used only in the worker process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .adapter import FamilyAdapter


ALL_CACHE_TYPES = frozenset(
    {"first_block_cache", "mag_cache", "taylorseer_cache", "faster_cache", "pyramid_attention_broadcast", "sea_cache"}
)


@dataclass(frozen=True)
class FamilySpec:
    name: str
    title: str
    # `_class_name` values of model_index.json this family loads (the published repositories' classes).
    pipeline_classes: frozenset[str]
    # Components that must be present (not null) in model_index.json.
    required_components: frozenset[str]
    default_steps: int
    default_fps: int
    # num_frames = frame_multiple * k + 1 (the VAE's temporal compression).
    frame_multiple: int
    # Width and height must be multiples of this (VAE spatial compression times the patch size).
    size_multiple: int
    # Longest stretch generated in one pass; longer segments are chained from their last frame.
    max_frames: int
    # (width, height) per aspect ratio.
    default_sizes: dict[str, tuple[int, int]]
    # The checkpoint authors' recommended classifier-free guidance; request guidance 0.5 maps to it.
    default_guidance: float
    sound: bool = False
    end_frame: bool = False
    # Whether a weights directory holds a first-and-last-frame checkpoint of the family (one that
    # generates only between two given frames), read from its configs.
    is_first_last_frame_checkpoint: Callable[[Path], bool] | None = field(default=None, compare=False)
    # Text-to-video from the same weights (True) or only from `text_to_video_weights` (False).
    builtin_text_to_video: bool = False
    # model_index.json `_class_name` values accepted for `text_to_video_weights`.
    text_to_video_pipeline_classes: frozenset[str] = frozenset()
    # Components kept in float32 whatever the binding's dtype (the authors' recommendation).
    float32_components: frozenset[str] = frozenset()
    default_negative_prompt: str | None = None
    # diffusers cache hooks that run on this family's transformer blocks.
    cache_types: frozenset[str] = ALL_CACHE_TYPES
    adapter: type[FamilyAdapter] | None = field(default=None, compare=False)

    def first_last_frame_only(self, weights: Path) -> bool:
        return self.is_first_last_frame_checkpoint is not None and self.is_first_last_frame_checkpoint(weights)
