"""The worker-side half of a family: loading its pipelines and turning one segment into a pipeline call.

Adapters run only in the worker process. This module imports neither torch nor diffusers at import
time, so that the family specs that point at adapters stay importable in the API process.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

    from .spec import FamilySpec


@dataclass(frozen=True)
class LoadSettings:
    weights: Path
    text_to_video_weights: Path | None
    # Passed to from_pretrained: {"default": dtype, "<component>": dtype, ...}.
    torch_dtype: dict[str, Any]
    distilled: bool


@dataclass
class SegmentInputs:
    """One pipeline pass: a stretch of video with its prompt, conditioning frames and settings."""

    prompt: str
    negative_prompt: str | None
    image: Image.Image | None
    end_image: Image.Image | None
    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    guidance_scale: float
    generator: Any


@dataclass
class PipelineCall:
    pipeline: Any
    kwargs: dict[str, Any]


@dataclass
class SegmentOutput:
    frames: np.ndarray  # (frames, height, width, 3) uint8
    audio: np.ndarray | None = None  # (samples, channels) float32 in [-1, 1]
    audio_sample_rate: int | None = None


def derive_pipeline(pipeline_class: Any, source: Any, **config: Any) -> Any:
    """Build another pipeline class over the components already loaded in `source`.

    Unlike `from_pipe`, this never casts the shared modules to one dtype, so a float32 VAE next to a
    bfloat16 transformer stays as it is.
    """
    parameters = inspect.signature(pipeline_class.__init__).parameters
    components = {name: module for name, module in source.components.items() if name in parameters}
    for name, value in source.config.items():
        if name in parameters and name not in components and not name.startswith("_"):
            config.setdefault(name, value)
    return pipeline_class(**components, **config)


def video_to_uint8(video: Any) -> np.ndarray:
    """First video of a pipeline's `output_type="np"` result, as (frames, height, width, 3) uint8."""
    frames = np.asarray(video[0], dtype=np.float32)
    return (frames.clip(0.0, 1.0) * 255.0).round().astype(np.uint8)


class FamilyAdapter(ABC):
    def __init__(self, spec: FamilySpec) -> None:
        self.spec = spec

    @abstractmethod
    def load(self, settings: LoadSettings) -> None:
        """Load the family's pipelines from local directories (from_pretrained, local files only)."""

    @abstractmethod
    def pipelines(self) -> list[Any]:
        """Every distinct pipeline object, for device placement and offloading."""

    @abstractmethod
    def denoisers(self) -> list[Any]:
        """The denoising transformers, for attention backends, cache hooks and compilation."""

    @abstractmethod
    def prepare_call(self, inputs: SegmentInputs) -> PipelineCall:
        """Choose the pipeline for this segment and its keyword arguments (callback excluded)."""

    def read_output(self, output: Any) -> SegmentOutput:
        return SegmentOutput(frames=video_to_uint8(output.frames))
