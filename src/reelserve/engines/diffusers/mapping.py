"""From request parameters to pipeline arguments: sizes, frame counts, guidance, segments.

Pure arithmetic, shared by the API process (to refuse what a family cannot do and to promise a frame
count) and the worker (to run exactly that plan).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from reelserve.engines.base import GenerationRequest
from reelserve.errors import InputError

from .families import FamilySpec
from .options import BindingOptions

_ASPECT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class RouteSettings:
    """A family's defaults with the binding's overrides applied."""

    family: FamilySpec
    steps: int
    fps: int
    sizes: dict[str, tuple[int, int]]
    max_frames: int
    default_guidance: float
    negative_prompt: str | None

    @classmethod
    def from_options(cls, family: FamilySpec, options: BindingOptions) -> RouteSettings:
        distilled_steps = 8 if options.distilled else None
        guidance = options.guidance_scale or (1.0 if options.distilled else family.default_guidance)
        return cls(
            family=family,
            steps=options.steps or distilled_steps or family.default_steps,
            fps=options.fps or family.default_fps,
            sizes=dict(options.sizes) if options.sizes else dict(family.default_sizes),
            max_frames=options.max_frames or family.max_frames,
            default_guidance=guidance,
            negative_prompt=options.negative_prompt
            if options.negative_prompt is not None
            else family.default_negative_prompt,
        )


@dataclass(frozen=True)
class SegmentPlan:
    """One pipeline pass. `prompt_index` says which request segment it belongs to."""

    prompt: str
    num_frames: int
    prompt_index: int


@dataclass(frozen=True)
class VideoPlan:
    width: int
    height: int
    fps: int
    steps: int
    guidance_scale: float
    negative_prompt: str | None
    segments: tuple[SegmentPlan, ...]

    @property
    def frame_count(self) -> int:
        return sum(segment.num_frames for segment in self.segments)

    @property
    def total_steps(self) -> int:
        return self.steps * len(self.segments)


def resolve_size(aspect_ratio: str, sizes: dict[str, tuple[int, int]], size_multiple: int) -> tuple[int, int]:
    """The binding's size for this aspect ratio, or one of the same pixel area as the 16:9 size."""
    if aspect_ratio in sizes:
        return sizes[aspect_ratio]
    match = _ASPECT.match(aspect_ratio or "")
    if not match or float(match[1]) <= 0 or float(match[2]) <= 0:
        raise InputError(f'aspect_ratio {aspect_ratio!r} is not a ratio like "16:9"', param="aspect_ratio")
    ratio = float(match[1]) / float(match[2])
    if not 0.25 <= ratio <= 4.0:
        raise InputError(f"aspect_ratio {aspect_ratio} is outside 1:4 to 4:1", param="aspect_ratio")
    reference_width, reference_height = sizes.get("16:9") or next(iter(sizes.values()))
    area = reference_width * reference_height
    width = max(size_multiple, round(math.sqrt(area * ratio) / size_multiple) * size_multiple)
    height = max(size_multiple, round(math.sqrt(area / ratio) / size_multiple) * size_multiple)
    return width, height


def frames_for_duration(seconds: float, fps: int, frame_multiple: int) -> int:
    """The nearest frame count of the form frame_multiple * k + 1 (k >= 1) for `seconds` at `fps`."""
    k = max(1, round(seconds * fps / frame_multiple))
    return frame_multiple * k + 1


def split_segment(seconds: float, fps: int, frame_multiple: int, max_frames: int) -> list[int]:
    """Frame counts of the passes for one segment: one pass, or equal passes when it exceeds max_frames."""
    frames = frames_for_duration(seconds, fps, frame_multiple)
    if frames <= max_frames:
        return [frames]
    longest_pass = (max_frames - 1) // frame_multiple * frame_multiple
    passes = math.ceil((frames - 1) / longest_pass)
    return [frames_for_duration(seconds / passes, fps, frame_multiple)] * passes


def map_guidance(request_guidance: float | None, default_guidance: float) -> float:
    """Request guidance in [0, 1] to the family's CFG: linear, 0 -> 1 (off), 0.5 -> default, 1 -> 2*default-1."""
    if request_guidance is None:
        return default_guidance
    return 1.0 + request_guidance * 2.0 * (default_guidance - 1.0)


def plan_video(request: GenerationRequest, settings: RouteSettings) -> VideoPlan:
    family = settings.family
    width, height = resolve_size(request.aspect_ratio, settings.sizes, family.size_multiple)
    if request.guidance_scale is not None and not 0.0 <= request.guidance_scale <= 1.0:
        raise InputError("guidance_scale must be between 0 and 1", param="guidance_scale")
    request_segments = [(s.prompt, s.duration) for s in request.segments] or [(request.prompt, float(request.duration))]
    passes: list[SegmentPlan] = []
    for index, (prompt, seconds) in enumerate(request_segments):
        if seconds <= 0:
            raise InputError("every segment needs a positive duration", param="multi_prompt")
        for num_frames in split_segment(seconds, settings.fps, family.frame_multiple, settings.max_frames):
            passes.append(SegmentPlan(prompt=prompt, num_frames=num_frames, prompt_index=index))
    return VideoPlan(
        width=width,
        height=height,
        fps=settings.fps,
        steps=settings.steps,
        guidance_scale=map_guidance(request.guidance_scale, settings.default_guidance),
        negative_prompt=request.negative_prompt or settings.negative_prompt,
        segments=tuple(passes),
    )
