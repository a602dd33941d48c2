"""Inside the worker process: the loaded pipelines with the binding's settings, and running a job on them.

Imported only in the worker process (it imports torch and diffusers).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from reelserve.jobs.status import FailureKind
from reelserve.resident import StopRequested
from reelserve.resident.failures import runtime_failure

from .families import FamilySpec, get_family
from .families.adapter import FamilyAdapter, LoadSettings, SegmentInputs
from .mapping import RouteSettings, VideoPlan
from .messages import Job, JobDone
from .options import BindingOptions
from .speedups import apply_speedups, reset_caches

log = logging.getLogger("reelserve.engines.diffusers.worker")


def _resolve_device(device: str) -> torch.device:
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def _resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, dtype)


def fit_image(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover width x height and crop the centre, so the subject keeps its proportions."""
    if image.size == (width, height):
        return image
    return ImageOps.fit(image.convert("RGB"), (width, height), method=Image.Resampling.LANCZOS)


def _fit_audio_length(audio: np.ndarray, samples: int) -> np.ndarray:
    if len(audio) >= samples:
        return audio[:samples]
    return np.concatenate([audio, np.zeros((samples - len(audio), audio.shape[1]), dtype=audio.dtype)])


class PipelineRuntime:
    def __init__(self, options: BindingOptions) -> None:
        self.options = options
        self.family: FamilySpec = get_family(options.family)
        self.device = _resolve_device(options.device)
        self.dtype = _resolve_dtype(options.dtype, self.device)
        assert self.family.adapter is not None
        self.adapter: FamilyAdapter = self.family.adapter(self.family)
        self._active_pipeline: Any = None

    # Loading ---------------------------------------------------------------------------------------

    def load(self) -> float:
        started = time.monotonic()
        if self.options.cpu_offload != "none" and self.device.type == "cpu":
            raise ValueError(f"cpu_offload = {self.options.cpu_offload!r} needs a GPU device, not the CPU")
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging

        diffusers_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()
        torch_dtype: dict[str, Any] = {"default": self.dtype}
        torch_dtype.update({name: torch.float32 for name in self.family.float32_components})
        self.adapter.load(
            LoadSettings(
                weights=self.options.weights,
                text_to_video_weights=self.options.text_to_video_weights,
                torch_dtype=torch_dtype,
                distilled=self.options.distilled,
            )
        )
        self._load_loras()
        self._place()
        for pipeline in self.adapter.pipelines():
            pipeline.set_progress_bar_config(disable=True)
        apply_speedups(
            self.adapter.pipelines(),
            self.adapter.denoisers(),
            self.options,
            steps=RouteSettings.from_options(self.family, self.options).steps,
            current_timestep=lambda: self._active_pipeline.current_timestep,
        )
        return time.monotonic() - started

    def _load_loras(self) -> None:
        if not self.options.loras:
            return
        try:
            import peft  # noqa: F401
        except ImportError:
            raise RuntimeError("LoRA weights need the `peft` package in the server's environment") from None
        # Every pipeline of a family shares the transformers of the first, except the text-to-video pipeline
        # of text_to_video_weights, a model of its own that the LoRAs (made for one model) are not loaded into.
        pipeline = self.adapter.pipelines()[0]
        if self.options.text_to_video_weights is not None:
            log.warning("the LoRAs apply to the image-to-video model, not to text_to_video_weights")
        names = []
        for index, lora in enumerate(self.options.loras):
            name = f"reelserve_lora_{index}"
            extra = {"load_into_transformer_2": True} if lora.target == "transformer_2" else {}
            try:
                pipeline.load_lora_weights(str(lora.path), adapter_name=name, **extra)
            except Exception as error:
                detail = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
                raise ValueError(
                    f"LoRA {lora.path} could not be loaded into the {lora.target} of {self.family.name}: "
                    f"{type(error).__name__}: {detail}"
                ) from error
            # diffusers skips, with only a logged warning, a file that has no keys for the transformer.
            if name not in pipeline.get_list_adapters().get(lora.target, []):
                raise ValueError(
                    f"LoRA {lora.path} has no weights for the {lora.target} of {self.family.name}: "
                    "none of its keys names one of its layers (a LoRA for another model?)"
                )
            names.append(name)
        pipeline.set_adapters(names, adapter_weights=[lora.weight for lora in self.options.loras])
        if self.options.fuse_loras:
            components = sorted({lora.target for lora in self.options.loras})
            pipeline.fuse_lora(components=components, adapter_names=names)
            pipeline.unload_lora_weights()

    def _place(self) -> None:
        mode = self.options.cpu_offload
        if mode == "none":
            for pipeline in self.adapter.pipelines():
                pipeline.to(self.device)
        elif mode == "group":
            self.adapter.pipelines()[0].enable_group_offload(
                onload_device=self.device, offload_type="leaf_level", use_stream=True
            )
        # "model" and "sequential" offloading hooks belong to one pipeline; they are installed on the
        # pipeline about to run (see _activate).

    def _activate(self, pipeline: Any) -> None:
        if pipeline is self._active_pipeline:
            return
        if self.options.cpu_offload == "model":
            pipeline.enable_model_cpu_offload(device=self.device)
        elif self.options.cpu_offload == "sequential":
            pipeline.enable_sequential_cpu_offload(device=self.device)
        self._active_pipeline = pipeline

    # Failures, as the resident child reports them -----------------------------------------------------

    @staticmethod
    def load_failure(options: BindingOptions, error: BaseException) -> tuple[str, FailureKind]:
        message, kind = describe_failure(error, None)
        return f"could not load the {options.family} pipeline from {options.weights}: " + message.removeprefix(
            "generation failed: "
        ), kind

    @staticmethod
    def describe_failure(error: BaseException, job: Job | None) -> tuple[str, FailureKind]:
        return describe_failure(error, job.plan if job is not None else None)

    # Running ---------------------------------------------------------------------------------------

    def run(self, job: Job, on_step: Callable[[int], None], stop_requested: Callable[[], bool]) -> JobDone:
        plan = job.plan
        output_dir = Path(job.output_dir)
        frames_path = output_dir / f"{job.job_id}.frames.npy"
        audio_path = output_dir / f"{job.job_id}.audio.npy"
        try:
            audio, sample_rate = self._render(job, plan, frames_path, on_step, stop_requested)
            if audio is not None and job.want_audio:
                np.save(audio_path, audio)
            else:
                audio, sample_rate = None, None
        except BaseException:
            frames_path.unlink(missing_ok=True)
            audio_path.unlink(missing_ok=True)
            raise
        return JobDone(
            job_id=job.job_id,
            frames_path=str(frames_path),
            frame_count=plan.frame_count,
            width=plan.width,
            height=plan.height,
            audio_path=str(audio_path) if audio is not None else None,
            audio_sample_rate=sample_rate,
        )

    def _render(
        self,
        job: Job,
        plan: VideoPlan,
        frames_path: Path,
        on_step: Callable[[int], None],
        stop_requested: Callable[[], bool],
    ) -> tuple[np.ndarray | None, int | None]:
        frames = np.lib.format.open_memmap(
            frames_path, mode="w+", dtype=np.uint8, shape=(plan.frame_count, plan.height, plan.width, 3)
        )
        generator = torch.Generator(device="cpu").manual_seed(job.seed)
        image = fit_image(job.image, plan.width, plan.height) if job.image is not None else None
        end_image = fit_image(job.end_image, plan.width, plan.height) if job.end_image is not None else None
        audio_parts: list[np.ndarray] = []
        sample_rate: int | None = None
        steps_done = 0
        offset = 0

        def step_callback(pipeline: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            nonlocal steps_done
            steps_done += 1
            on_step(steps_done)
            if stop_requested():
                raise StopRequested
            return {}

        for index, segment in enumerate(plan.segments):
            if stop_requested():
                raise StopRequested
            is_last = index == len(plan.segments) - 1
            inputs = SegmentInputs(
                prompt=segment.prompt,
                negative_prompt=plan.negative_prompt,
                image=image,
                end_image=end_image if is_last else None,
                width=plan.width,
                height=plan.height,
                num_frames=segment.num_frames,
                fps=plan.fps,
                steps=plan.steps,
                guidance_scale=plan.guidance_scale,
                generator=generator,
            )
            call = self.adapter.prepare_call(inputs)
            self._activate(call.pipeline)
            reset_caches(self.adapter.denoisers())
            kwargs = {**call.kwargs, **self.options.pipeline_kwargs, "callback_on_step_end": step_callback}
            output = call.pipeline(**kwargs)
            result = self.adapter.read_output(output)
            expected = (segment.num_frames, plan.height, plan.width, 3)
            if result.frames.shape != expected:
                raise RuntimeError(f"the pipeline returned frames of shape {result.frames.shape}, not {expected}")
            frames[offset : offset + segment.num_frames] = result.frames
            offset += segment.num_frames
            # The next segment starts from this one's last frame.
            image = Image.fromarray(result.frames[-1])
            if result.audio is not None and result.audio_sample_rate:
                sample_rate = result.audio_sample_rate
                samples = round(segment.num_frames / plan.fps * sample_rate)
                audio_parts.append(_fit_audio_length(result.audio, samples))
        frames.flush()
        del frames
        audio = np.concatenate(audio_parts).astype(np.float32) if audio_parts else None
        return audio, sample_rate


def describe_failure(error: BaseException, plan: VideoPlan | None) -> tuple[str, FailureKind]:
    """A message for the job's error, and its kind (an out-of-memory or a CUDA error replaces the worker)."""
    seen = runtime_failure(error)
    text, kind = seen.text, seen.kind
    if seen.in_host_memory:
        return f"the worker ran out of host memory: {text}", kind
    if kind == FailureKind.OOM:
        size = f" at {plan.width}x{plan.height}, {plan.frame_count} frames" if plan else ""
        return (
            f"the GPU ran out of memory generating this video{size}; the model worker restarts "
            f"(a shorter duration, smaller sizes, cpu_offload or vae_tiling in the binding would fit) [{text}]",
            kind,
        )
    if kind == FailureKind.CUDA_ERROR:
        return f"a CUDA error stopped the generation; the model worker restarts [{text}]", kind
    return f"generation failed: {type(error).__name__}: {text}", kind
