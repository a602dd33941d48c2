"""Wan 2.2 I2V A14B: two 14B experts (high noise `transformer`, low noise `transformer_2`)."""

from __future__ import annotations

from .spec import FamilySpec
from .wan_adapter import WAN_NEGATIVE_PROMPT, WanAdapter


class Wan22ImageToVideoA14BAdapter(WanAdapter):
    pass


SPEC = FamilySpec(
    name="wan2.2-i2v-a14b",
    title="Wan 2.2 image-to-video A14B (two experts)",
    pipeline_classes=frozenset({"WanImageToVideoPipeline"}),
    required_components=frozenset({"transformer", "transformer_2", "vae", "text_encoder", "tokenizer", "scheduler"}),
    default_steps=40,
    default_fps=16,
    frame_multiple=4,
    size_multiple=16,
    max_frames=81,
    # 480p by default; bind `sizes` for 720p (1280x720, 720x1280, 960x960).
    default_sizes={"16:9": (832, 480), "9:16": (480, 832), "1:1": (624, 624)},
    # Both experts use the request's mapped scale; the switch between them follows `boundary_ratio`.
    default_guidance=3.5,
    sound=False,
    end_frame=False,
    builtin_text_to_video=False,
    text_to_video_pipeline_classes=frozenset({"WanPipeline"}),
    float32_components=frozenset({"vae"}),
    default_negative_prompt=WAN_NEGATIVE_PROMPT,
    adapter=Wan22ImageToVideoA14BAdapter,
)
