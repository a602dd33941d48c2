"""LTX-2: video with synchronized audio. LTX2ImageToVideoPipeline, LTX2Pipeline for text-to-video and
LTX2ConditionPipeline for end frames, over one set of loaded weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from .adapter import (
    FamilyAdapter,
    LoadSettings,
    PipelineCall,
    SegmentInputs,
    SegmentOutput,
    derive_pipeline,
    video_to_uint8,
)
from .spec import FamilySpec

# The pipeline's own defaults: audio guidance sits higher than video guidance.
_DEFAULT_AUDIO_GUIDANCE = 7.0
_DEFAULT_STG_BLOCKS = (28,)


class Ltx2Adapter(FamilyAdapter):
    image_to_video: Any = None
    text_to_video: Any = None
    conditioned: Any = None
    distilled: bool = False

    def load(self, settings: LoadSettings) -> None:
        from diffusers import LTX2ConditionPipeline, LTX2ImageToVideoPipeline, LTX2Pipeline

        self.distilled = settings.distilled
        self.image_to_video = LTX2ImageToVideoPipeline.from_pretrained(
            str(settings.weights), local_files_only=True, dtype=settings.torch_dtype
        )
        self.text_to_video = derive_pipeline(LTX2Pipeline, self.image_to_video)
        self.conditioned = derive_pipeline(LTX2ConditionPipeline, self.image_to_video)

    def pipelines(self) -> list[Any]:
        return [self.image_to_video, self.text_to_video, self.conditioned]

    def denoisers(self) -> list[Any]:
        return [self.image_to_video.transformer]

    def _guidance_kwargs(self, video_guidance: float) -> dict[str, Any]:
        if self.distilled:
            from diffusers.pipelines.ltx2.utils import DISTILLED_SIGMA_VALUES

            return {
                "sigmas": list(DISTILLED_SIGMA_VALUES),
                "guidance_scale": 1.0,
                "audio_guidance_scale": 1.0,
                "stg_scale": 0.0,
                "audio_stg_scale": 0.0,
                "modality_scale": 1.0,
                "audio_modality_scale": 1.0,
            }
        # Audio guidance keeps its ratio to the video guidance: the request's fraction moves both.
        video_span = self.spec.default_guidance - 1.0
        relative = (video_guidance - 1.0) / video_span if video_span > 0 else 0.0
        num_blocks = len(self.image_to_video.transformer.transformer_blocks)
        stg_blocks = [block for block in _DEFAULT_STG_BLOCKS if block < num_blocks]
        kwargs: dict[str, Any] = {
            "guidance_scale": video_guidance,
            "audio_guidance_scale": 1.0 + relative * (_DEFAULT_AUDIO_GUIDANCE - 1.0),
            "spatio_temporal_guidance_blocks": stg_blocks or None,
        }
        if not stg_blocks:
            kwargs.update(stg_scale=0.0, audio_stg_scale=0.0)
        return kwargs

    def prepare_call(self, inputs: SegmentInputs) -> PipelineCall:
        from diffusers.pipelines.ltx2.utils import DEFAULT_NEGATIVE_PROMPT

        kwargs: dict[str, Any] = {
            "prompt": inputs.prompt,
            "negative_prompt": inputs.negative_prompt or DEFAULT_NEGATIVE_PROMPT,
            "height": inputs.height,
            "width": inputs.width,
            "num_frames": inputs.num_frames,
            "frame_rate": float(inputs.fps),
            "num_inference_steps": inputs.steps,
            "generator": inputs.generator,
            "output_type": "np",
            **self._guidance_kwargs(inputs.guidance_scale),
        }
        if inputs.end_image is not None:
            from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

            # Indices are latent indices; -1 is the last latent frame.
            kwargs["conditions"] = [
                LTX2VideoCondition(frames=inputs.image, index=0),
                LTX2VideoCondition(frames=inputs.end_image, index=-1),
            ]
            return PipelineCall(self.conditioned, kwargs)
        if inputs.image is None:
            return PipelineCall(self.text_to_video, kwargs)
        kwargs["image"] = inputs.image
        return PipelineCall(self.image_to_video, kwargs)

    def read_output(self, output: Any) -> SegmentOutput:
        waveform = output.audio[0]
        if hasattr(waveform, "detach"):
            waveform = waveform.detach().float().cpu().numpy()
        # (channels, samples) -> (samples, channels)
        audio = np.ascontiguousarray(np.asarray(waveform, dtype=np.float32).T).clip(-1.0, 1.0)
        return SegmentOutput(
            frames=video_to_uint8(output.frames),
            audio=audio,
            audio_sample_rate=int(self.image_to_video.vocoder.config.output_sampling_rate),
        )


SPEC = FamilySpec(
    name="ltx-2",
    title="LTX-2 (video with audio)",
    pipeline_classes=frozenset({"LTX2Pipeline", "LTX2ImageToVideoPipeline", "LTX2ConditionPipeline"}),
    required_components=frozenset(
        {"transformer", "vae", "audio_vae", "text_encoder", "tokenizer", "connectors", "vocoder", "scheduler"}
    ),
    default_steps=40,
    default_fps=24,
    frame_multiple=8,
    size_multiple=32,
    max_frames=257,
    default_sizes={"16:9": (960, 544), "9:16": (544, 960), "1:1": (768, 768)},
    default_guidance=3.0,
    sound=True,
    end_frame=True,
    builtin_text_to_video=True,
    # diffusers registers no block metadata for LTX-2's audio-video blocks (first-block, Mag and Sea
    # caches need it) and pyramid attention broadcast trips over the audio attention.
    cache_types=frozenset({"taylorseer_cache", "faster_cache"}),
    adapter=Ltx2Adapter,
)
