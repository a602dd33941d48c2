"""The options of a route bound to the diffusers engine, as an operator writes them in the TOML file.

Validated here, in the API process, without torch: a bad binding fails at configuration time with a
`ValueError` that names the option. Option names and defaults are documented in docs/diffusers.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from reelserve.engines.options import invalid_options

from .families import FAMILIES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoraWeights(_Strict):
    path: Path
    weight: float = 1.0
    # Wan 2.2 A14B has two experts; LoRAs such as the 4-step distillation ones come per expert.
    target: Literal["transformer", "transformer_2"] = "transformer"


# Each cache option maps onto the diffusers config class of the same technique; unset fields keep
# diffusers' defaults. Hooks that need the current timestep or the step count get them from the engine.
class FirstBlockCache(_Strict):
    type: Literal["first_block_cache"]
    threshold: float | None = Field(default=None, gt=0)


class MagCache(_Strict):
    type: Literal["mag_cache"]
    threshold: float | None = Field(default=None, gt=0)
    max_skip_steps: int | None = Field(default=None, ge=1)
    retention_ratio: float | None = Field(default=None, ge=0, le=1)
    mag_ratios: list[float] | None = None
    calibrate: bool = False

    @model_validator(mode="after")
    def _ratios_or_calibration(self) -> MagCache:
        if self.mag_ratios is None and not self.calibrate:
            raise ValueError(
                "mag_cache needs the checkpoint's mag_ratios (run once with calibrate = true to print them)"
            )
        return self


class TaylorSeerCache(_Strict):
    type: Literal["taylorseer_cache"]
    cache_interval: int | None = Field(default=None, ge=1)
    disable_cache_before_step: int | None = Field(default=None, ge=0)
    disable_cache_after_step: int | None = Field(default=None, ge=0)
    max_order: int | None = Field(default=None, ge=0)
    use_lite_mode: bool | None = None


class FasterCache(_Strict):
    type: Literal["faster_cache"]
    spatial_attention_block_skip_range: int | None = Field(default=None, ge=1)
    temporal_attention_block_skip_range: int | None = Field(default=None, ge=1)
    spatial_attention_timestep_skip_range: tuple[int, int] | None = None
    temporal_attention_timestep_skip_range: tuple[int, int] | None = None
    unconditional_batch_skip_range: int | None = Field(default=None, ge=1)
    unconditional_batch_timestep_skip_range: tuple[int, int] | None = None
    alpha_low_frequency: float | None = None
    alpha_high_frequency: float | None = None


class PyramidAttentionBroadcast(_Strict):
    type: Literal["pyramid_attention_broadcast"]
    spatial_attention_block_skip_range: int | None = Field(default=2, ge=1)
    temporal_attention_block_skip_range: int | None = Field(default=None, ge=1)
    cross_attention_block_skip_range: int | None = Field(default=None, ge=1)
    spatial_attention_timestep_skip_range: tuple[int, int] | None = None
    temporal_attention_timestep_skip_range: tuple[int, int] | None = None
    cross_attention_timestep_skip_range: tuple[int, int] | None = None


class SeaCache(_Strict):
    type: Literal["sea_cache"]
    threshold: float | None = Field(default=None, ge=0)
    residual_order: Literal[0, 1] | None = None
    retention_steps: int | None = Field(default=None, ge=0)
    cache_end_steps: int | None = Field(default=None, ge=0)
    max_consecutive_cached: int | None = Field(default=None, ge=0)


CacheOptions = Annotated[
    FirstBlockCache | MagCache | TaylorSeerCache | FasterCache | PyramidAttentionBroadcast | SeaCache,
    Field(discriminator="type"),
]

_CACHE_ALIASES = {
    "first_block": "first_block_cache",
    "fbcache": "first_block_cache",
    "magcache": "mag_cache",
    "taylorseer": "taylorseer_cache",
    "fastercache": "faster_cache",
    "pab": "pyramid_attention_broadcast",
    "seacache": "sea_cache",
}


def cache_hook_kwargs(cache: BaseModel) -> dict[str, Any]:
    """The options to pass to the diffusers config class, leaving its defaults where unset."""
    return {key: value for key, value in cache.model_dump(exclude={"type"}).items() if value is not None}


class CompileOptions(_Strict):
    # "regional" compiles each repeated transformer block once (fast to compile, nearly the full gain).
    scope: Literal["regional", "full"] = "regional"
    mode: str | None = None
    # Unset: whole graphs, except with a cache hook, whose skip decisions break the graph.
    fullgraph: bool | None = None
    dynamic: bool | None = None


_DTYPE_ALIASES = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32", "float": "float32"}
_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps|xpu(:\d+)?)$")
_ASPECT_PATTERN = re.compile(r"^\d+:\d+$")


class BindingOptions(_Strict):
    family: str
    weights: Path
    text_to_video_weights: Path | None = None
    steps: int | None = Field(default=None, ge=1, le=1000)
    fps: int | None = Field(default=None, ge=1, le=120)
    sizes: dict[str, tuple[int, int]] | None = None
    max_frames: int | None = Field(default=None, ge=2)
    # The family's classifier-free guidance at request guidance 0.5 (1 switches guidance off).
    guidance_scale: float | None = Field(default=None, ge=1.0, le=30.0)
    negative_prompt: str | None = None
    distilled: bool = False
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    device: str = "auto"
    cpu_offload: Literal["none", "model", "sequential", "group"] = "none"
    vae_tiling: bool = False
    attention_backend: str | None = None
    cache: CacheOptions | None = None
    compile: CompileOptions | None = None
    loras: list[LoraWeights] = Field(default_factory=list)
    fuse_loras: bool = True
    # Extra keyword arguments for every pipeline call, for what no option covers (e.g. LTX timesteps).
    pipeline_kwargs: dict[str, Any] = Field(default_factory=dict)
    load_timeout_seconds: float = Field(default=3600.0, gt=0)
    job_timeout_seconds: float | None = Field(default=None, gt=0)

    @field_validator("family")
    @classmethod
    def _known_family(cls, family: str) -> str:
        if family not in FAMILIES:
            raise ValueError(f"unknown family {family!r}; known families: {', '.join(FAMILIES)}")
        return family

    @field_validator("dtype", mode="before")
    @classmethod
    def _dtype_alias(cls, value: Any) -> Any:
        return _DTYPE_ALIASES.get(value, value) if isinstance(value, str) else value

    @field_validator("cpu_offload", mode="before")
    @classmethod
    def _offload_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "model" if value else "none"
        return value

    @field_validator("compile", mode="before")
    @classmethod
    def _compile_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return {} if value else None
        if isinstance(value, str):
            return {"scope": value}
        return value

    @field_validator("cache", mode="before")
    @classmethod
    def _cache_alias(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("type"), str):
            kind = value["type"].strip().lower().replace("-", "_")
            return {**value, "type": _CACHE_ALIASES.get(kind, kind)}
        return value

    @field_validator("device")
    @classmethod
    def _device_name(cls, device: str) -> str:
        if not _DEVICE_PATTERN.match(device):
            raise ValueError(f"device {device!r} is not one of auto, cpu, cuda, cuda:N, mps, xpu")
        return device

    @field_validator("attention_backend")
    @classmethod
    def _local_backend(cls, backend: str | None) -> str | None:
        if backend is not None and backend.endswith("_hub"):
            raise ValueError(
                f"attention backend {backend!r} downloads its kernel from the Hugging Face Hub at run time; "
                "use a locally installed backend (e.g. flash, _flash_3, sage, native, _native_cudnn)"
            )
        return backend

    @model_validator(mode="after")
    def _family_rules(self) -> BindingOptions:
        spec = FAMILIES[self.family]
        for aspect, (width, height) in (self.sizes or {}).items():
            if not _ASPECT_PATTERN.match(aspect):
                raise ValueError(f'sizes: key {aspect!r} is not an aspect ratio like "16:9"')
            if width % spec.size_multiple or height % spec.size_multiple or width <= 0 or height <= 0:
                raise ValueError(
                    f"sizes[{aspect!r}] = [{width}, {height}]: {spec.name} needs width and height that are "
                    f"positive multiples of {spec.size_multiple}"
                )
        if self.max_frames is not None and self.max_frames < spec.frame_multiple + 1:
            raise ValueError(f"max_frames must be at least {spec.frame_multiple + 1} for {spec.name}")
        if self.text_to_video_weights is not None and spec.builtin_text_to_video:
            raise ValueError(f"{spec.name} serves text-to-video from its own weights; drop text_to_video_weights")
        if self.distilled and spec.name not in ("ltx-video", "ltx-2"):
            raise ValueError("distilled applies to ltx-video and ltx-2; for Wan, bind a distillation LoRA and steps")
        if self.cache is not None and self.cache.type not in spec.cache_types:
            raise ValueError(
                f"cache type {self.cache.type!r} does not work with {spec.name} in diffusers' hooks; "
                f"use one of {', '.join(sorted(spec.cache_types))}"
            )
        if any(lora.target == "transformer_2" for lora in self.loras) and spec.name != "wan2.2-i2v-a14b":
            raise ValueError(f"{spec.name} has no transformer_2; a LoRA target can only be transformer")
        return self


def _resolve(path: Path, base_dir: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def parse_binding_options(options: dict[str, Any], base_dir: Path) -> BindingOptions:
    """Validate a route's options; relative paths are taken from `base_dir` (the config file's folder)."""
    try:
        parsed = BindingOptions.model_validate(options)
    except ValidationError as error:
        raise ValueError(invalid_options("diffusers", error)) from None
    return parsed.model_copy(
        update={
            "weights": _resolve(parsed.weights, base_dir),
            "text_to_video_weights": (
                _resolve(parsed.text_to_video_weights, base_dir) if parsed.text_to_video_weights else None
            ),
            "loras": [lora.model_copy(update={"path": _resolve(lora.path, base_dir)}) for lora in parsed.loras],
        }
    )
