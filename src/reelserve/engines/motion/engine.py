"""The motion engine: camera moves (zoom, pan, tilt, dolly) over the still image, no generative model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np

from reelserve.engines.base import (
    EngineCapabilities,
    EngineError,
    GeneratedVideo,
    GenerationRequest,
    JobInterrupted,
    ProgressCallback,
    Segment,
    StopCheck,
)
from reelserve.engines.motion.camera import parse_camera_move
from reelserve.engines.motion.path import CameraState, CameraTimeline, plan_camera
from reelserve.engines.motion.render import OUTPUT_SIZES, FrameRenderer, opencv, output_size
from reelserve.errors import InputError
from reelserve.media.image import ImageFacts
from reelserve.media.video import Yuv420pPlanes

FPS = 24
Frame = TypeVar("Frame")

NEEDS_IMAGE = "the motion engine animates a still image and needs `image`"


class MotionEngine:
    name = "motion"
    capabilities = EngineCapabilities(
        generative=False, sound=False, voices=False, end_frame=False, text_to_video=False, multi_prompt=True
    )

    def start(self) -> None:
        opencv()  # loaded with the workers, so that their first job does not wait for it

    def check(self, request: GenerationRequest[ImageFacts]) -> None:
        if request.image is None:
            raise InputError(NEEDS_IMAGE, param="image")
        if request.aspect_ratio not in OUTPUT_SIZES:
            raise InputError(
                f"the motion engine renders {', '.join(OUTPUT_SIZES)}, not {request.aspect_ratio!r}",
                param="aspect_ratio",
            )

    def generate(
        self, request: GenerationRequest, progress: ProgressCallback, should_stop: StopCheck
    ) -> GeneratedVideo:
        if request.image is None:
            raise EngineError(NEEDS_IMAGE)
        if request.duration <= 0:
            raise EngineError(f"duration must be a positive number of seconds, got {request.duration}")
        try:
            width, height = output_size(request.aspect_ratio)
        except ValueError as exc:
            raise EngineError(str(exc)) from None
        timeline = plan_camera(
            [(parse_camera_move(segment.prompt), seconds) for segment, seconds in _timed_segments(request)]
        )
        frame_count = request.duration * FPS
        renderer = FrameRenderer(request.image, (width, height), timeline.max_zoom)
        return GeneratedVideo(
            frames=CameraFrames(renderer, timeline, frame_count, progress, should_stop),
            width=width,
            height=height,
            fps=FPS,
            frame_count=frame_count,
        )

    def close(self) -> None:
        pass


class CameraFrames:
    """The clip's frames, rendered lazily: iterate for RGB arrays, or `iter_yuv420p` for the encoder.

    Each pass reports progress and raises JobInterrupted as soon as `should_stop` says so.
    """

    def __init__(
        self,
        renderer: FrameRenderer,
        timeline: CameraTimeline,
        frame_count: int,
        progress: ProgressCallback,
        should_stop: StopCheck,
    ) -> None:
        self.renderer = renderer
        self.timeline = timeline
        self.frame_count = frame_count
        self.progress = progress
        self.should_stop = should_stop

    def __len__(self) -> int:
        return self.frame_count

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._rendered(self.renderer.render_rgb)

    def iter_yuv420p(self) -> Iterator[Yuv420pPlanes]:
        return self._rendered(self.renderer.render_yuv420p)

    def _rendered(self, render: Callable[[CameraState], Frame]) -> Iterator[Frame]:
        # Frames sample the timeline from its first instant to its last, so the clip ends on the
        # final camera state.
        step = self.timeline.total_seconds / max(1, self.frame_count - 1)
        for index in range(self.frame_count):
            if self.should_stop():
                raise JobInterrupted(f"stopped after {index} of {self.frame_count} frames")
            frame = render(self.timeline.at(index * step))
            self.progress((index + 1) / self.frame_count)
            yield frame


def _timed_segments(request: GenerationRequest) -> list[tuple[Segment, float]]:
    """Segments with their seconds, scaled to fill the request's duration exactly."""
    segments = [segment for segment in request.segments if segment.duration > 0]
    if not segments:
        return [(Segment(request.prompt, float(request.duration)), float(request.duration))]
    total = sum(segment.duration for segment in segments)
    return [(segment, segment.duration * request.duration / total) for segment in segments]
