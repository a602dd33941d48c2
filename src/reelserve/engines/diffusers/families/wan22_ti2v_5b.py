"""Wan 2.2 TI2V-5B: text- and image-to-video from one checkpoint, 720p at 24 fps, no image encoder."""

from __future__ import annotations

from .spec import FamilySpec
from .wan_adapter import WAN_NEGATIVE_PROMPT, WanAdapter


class Wan22TextImageToVideoAdapter(WanAdapter):
    expand_timesteps = True


SPEC = FamilySpec(
    name="wan2.2-ti2v-5b",
    title="Wan 2.2 TI2V 5B",
    pipeline_classes=frozenset({"WanPipeline", "WanImageToVideoPipeline"}),
    required_components=frozenset({"transformer", "vae", "text_encoder", "tokenizer", "scheduler"}),
    default_steps=50,
    default_fps=24,
    frame_multiple=4,
    # VAE compresses 16x spatially, the transformer patches 2x2.
    size_multiple=32,
    max_frames=121,
    default_sizes={"16:9": (1280, 704), "9:16": (704, 1280), "1:1": (960, 960)},
    default_guidance=5.0,
    sound=False,
    # The first frame is conditioned through the timesteps; diffusers ignores a last image for this model.
    end_frame=False,
    builtin_text_to_video=True,
    float32_components=frozenset({"vae"}),
    default_negative_prompt=WAN_NEGATIVE_PROMPT,
    adapter=Wan22TextImageToVideoAdapter,
)
