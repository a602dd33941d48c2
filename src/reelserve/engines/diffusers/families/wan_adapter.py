"""Worker-side adapter shared by the Wan families (WanImageToVideoPipeline and WanPipeline)."""

from __future__ import annotations

from typing import Any

from .adapter import FamilyAdapter, LoadSettings, PipelineCall, SegmentInputs, derive_pipeline

# The negative prompt the Wan authors ship with their sampling code (diffusers' examples use it too).
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，"
    "丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，"
    "静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)


class WanAdapter(FamilyAdapter):
    # Wan 2.2 TI2V-5B conditions the first frame through per-token timesteps and serves T2V from the same weights.
    expand_timesteps: bool = False

    image_to_video: Any = None
    text_to_video: Any = None

    def load(self, settings: LoadSettings) -> None:
        from diffusers import WanImageToVideoPipeline, WanPipeline

        overrides: dict[str, Any] = {"expand_timesteps": True} if self.expand_timesteps else {}
        self.image_to_video = WanImageToVideoPipeline.from_pretrained(
            str(settings.weights), local_files_only=True, dtype=settings.torch_dtype, **overrides
        )
        if self.spec.builtin_text_to_video:
            self.text_to_video = derive_pipeline(WanPipeline, self.image_to_video)
        elif settings.text_to_video_weights is not None:
            shared = self.image_to_video
            self.text_to_video = WanPipeline.from_pretrained(
                str(settings.text_to_video_weights),
                local_files_only=True,
                dtype=settings.torch_dtype,
                tokenizer=shared.tokenizer,
                text_encoder=shared.text_encoder,
                vae=shared.vae,
            )

    def pipelines(self) -> list[Any]:
        return [pipe for pipe in (self.image_to_video, self.text_to_video) if pipe is not None]

    def denoisers(self) -> list[Any]:
        found: list[Any] = []
        for pipe in self.pipelines():
            for module in (pipe.transformer, getattr(pipe, "transformer_2", None)):
                if module is not None and all(module is not seen for seen in found):
                    found.append(module)
        return found

    def prepare_call(self, inputs: SegmentInputs) -> PipelineCall:
        kwargs: dict[str, Any] = {
            "prompt": inputs.prompt,
            "negative_prompt": inputs.negative_prompt,
            "height": inputs.height,
            "width": inputs.width,
            "num_frames": inputs.num_frames,
            "num_inference_steps": inputs.steps,
            "guidance_scale": inputs.guidance_scale,
            "generator": inputs.generator,
            "output_type": "np",
        }
        if inputs.image is None:
            return PipelineCall(self.text_to_video, kwargs)
        kwargs["image"] = inputs.image
        if inputs.end_image is not None:
            kwargs["last_image"] = inputs.end_image
        return PipelineCall(self.image_to_video, kwargs)
