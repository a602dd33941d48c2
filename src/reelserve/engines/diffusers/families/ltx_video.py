"""LTX-Video (0.9.x, including the distilled checkpoints): LTXImageToVideoPipeline, LTXPipeline for
text-to-video and LTXConditionPipeline for end frames, all over one set of loaded weights."""

from __future__ import annotations

from typing import Any

from .adapter import FamilyAdapter, LoadSettings, PipelineCall, SegmentInputs, derive_pipeline
from .spec import FamilySpec

# Values from the LTX-Video model card for checkpoints whose VAE decoder is timestep-conditioned (0.9.1+).
_DECODE_TIMESTEP = 0.03
_DECODE_NOISE_SCALE = 0.025


class LtxVideoAdapter(FamilyAdapter):
    image_to_video: Any = None
    text_to_video: Any = None
    conditioned: Any = None

    def load(self, settings: LoadSettings) -> None:
        from diffusers import LTXConditionPipeline, LTXImageToVideoPipeline, LTXPipeline

        self.image_to_video = LTXImageToVideoPipeline.from_pretrained(
            str(settings.weights), local_files_only=True, dtype=settings.torch_dtype
        )
        self.text_to_video = derive_pipeline(LTXPipeline, self.image_to_video)
        self.conditioned = derive_pipeline(LTXConditionPipeline, self.image_to_video)

    def pipelines(self) -> list[Any]:
        return [self.image_to_video, self.text_to_video, self.conditioned]

    def denoisers(self) -> list[Any]:
        return [self.image_to_video.transformer]

    def prepare_call(self, inputs: SegmentInputs) -> PipelineCall:
        kwargs: dict[str, Any] = {
            "prompt": inputs.prompt,
            "negative_prompt": inputs.negative_prompt,
            "height": inputs.height,
            "width": inputs.width,
            "num_frames": inputs.num_frames,
            "frame_rate": inputs.fps,
            "num_inference_steps": inputs.steps,
            "guidance_scale": inputs.guidance_scale,
            "generator": inputs.generator,
            "output_type": "np",
        }
        if self.image_to_video.vae.config.timestep_conditioning:
            kwargs["decode_timestep"] = _DECODE_TIMESTEP
            kwargs["decode_noise_scale"] = _DECODE_NOISE_SCALE
        if inputs.end_image is not None:
            from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

            kwargs["conditions"] = [
                LTXVideoCondition(image=inputs.image, frame_index=0),
                LTXVideoCondition(image=inputs.end_image, frame_index=inputs.num_frames - 1),
            ]
            return PipelineCall(self.conditioned, kwargs)
        if inputs.image is None:
            return PipelineCall(self.text_to_video, kwargs)
        kwargs["image"] = inputs.image
        return PipelineCall(self.image_to_video, kwargs)


SPEC = FamilySpec(
    name="ltx-video",
    title="LTX-Video",
    pipeline_classes=frozenset({"LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline"}),
    required_components=frozenset({"transformer", "vae", "text_encoder", "tokenizer", "scheduler"}),
    default_steps=50,
    default_fps=24,
    frame_multiple=8,
    size_multiple=32,
    max_frames=257,
    default_sizes={"16:9": (832, 480), "9:16": (480, 832), "1:1": (640, 640)},
    default_guidance=3.0,
    sound=False,
    # LTXConditionPipeline: checkpoints 0.9.5 and later.
    end_frame=True,
    builtin_text_to_video=True,
    default_negative_prompt="worst quality, inconsistent motion, blurry, jittery, distorted",
    adapter=LtxVideoAdapter,
)
