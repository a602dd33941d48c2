"""Wan 2.1 I2V 14B (480P and 720P checkpoints) with its CLIP image encoder, and Wan 2.1 FLF2V 14B
(first and last frame) through the same pipeline class."""

from __future__ import annotations

import json
from pathlib import Path

from .spec import FamilySpec
from .wan_adapter import WAN_NEGATIVE_PROMPT, WanAdapter


class Wan21ImageToVideoAdapter(WanAdapter):
    pass


def is_flf2v_checkpoint(weights: Path) -> bool:
    """Wan2.1-FLF2V-14B embeds two CLIP images (first and last) with a learned position embedding."""
    try:
        config = json.loads((weights / "transformer" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(config.get("pos_embed_seq_len"))


SPEC = FamilySpec(
    name="wan2.1-i2v",
    title="Wan 2.1 image-to-video 14B",
    pipeline_classes=frozenset({"WanImageToVideoPipeline"}),
    required_components=frozenset(
        {"transformer", "vae", "text_encoder", "tokenizer", "scheduler", "image_encoder", "image_processor"}
    ),
    default_steps=40,
    default_fps=16,
    frame_multiple=4,
    size_multiple=16,
    max_frames=81,
    # The 480P checkpoint's native sizes; bind `sizes` for the 720P one (1280x720, 720x1280, 960x960).
    default_sizes={"16:9": (832, 480), "9:16": (480, 832), "1:1": (624, 624)},
    default_guidance=5.0,
    is_first_last_frame_checkpoint=is_flf2v_checkpoint,
    text_to_video_pipeline_classes=frozenset({"WanPipeline"}),
    float32_components=frozenset({"vae", "image_encoder"}),
    default_negative_prompt=WAN_NEGATIVE_PROMPT,
    adapter=Wan21ImageToVideoAdapter,
)
