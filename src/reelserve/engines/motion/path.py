"""Camera paths over time: where each move starts and ends, eased, chained across segments.

Coordinates are normalised to the image after it was cropped to the output's aspect ratio: the
centre (0.5, 0.5) is the middle of the picture and zoom 1 shows all of it. At zoom z the view is a
1/z by 1/z window, so its centre must stay within [0.5/z, 1 - 0.5/z] on each axis for the camera never
to show anything outside the picture, and zoom never goes below 1. That region is convex in
(log zoom, centre) and in (1/zoom, centre), the spaces paths interpolate in, so a path between two
valid states stays valid throughout.

Everything here is a 2D move of a flat picture. A lens zoom changes magnification geometrically; a
dolly is modelled as the camera approaching the picture plane, so magnification is 1/distance with
the distance eased, which gathers pace towards the end of a push-in as a real approach does. On a
flat picture that profile (and its larger travel) is the only honest difference between the two.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from reelserve.engines.motion.camera import CameraMove, ZoomStyle

MAX_ZOOM = 3.0

# How far each move goes per second at normal speed; the speed word scales these.
LENS_ZOOM_PER_SECOND = math.log(1.3) / 5  # natural-log magnification: x1.3 over 5 s
DOLLY_APPROACH_PER_SECOND = (1 - 1 / 1.45) / 5  # fraction of the distance closed: x1.45 over 5 s
MAX_DOLLY_APPROACH = 0.65  # a single dolly never magnifies more than 1 / (1 - 0.65) = x2.9
PAN_PER_SECOND = 0.03  # fraction of the picture's width (or height, for tilts): 15% over 5 s
MAX_PAN = 0.5
PAN_ROOM_ZOOM = 1.5  # the most a pan zooms in by itself to make room to move


@dataclass(frozen=True)
class CameraState:
    zoom: float
    center_x: float
    center_y: float

    def clamped(self) -> CameraState:
        """The nearest state whose view lies wholly inside the picture."""
        zoom = min(max(self.zoom, 1.0), MAX_ZOOM)
        half = 0.5 / zoom
        return CameraState(zoom, _clamp(self.center_x, half, 1 - half), _clamp(self.center_y, half, 1 - half))


def ease_in_out(t: float) -> float:
    """Smoothstep: starts and ends at rest, so consecutive moves join without a jolt."""
    t = _clamp(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


@dataclass(frozen=True)
class CameraPath:
    """One move from `start` to `end`, a function of t in [0, 1]."""

    start: CameraState
    end: CameraState
    zoom_style: ZoomStyle = ZoomStyle.LENS

    def at(self, t: float) -> CameraState:
        e = ease_in_out(t)
        if self.zoom_style is ZoomStyle.DOLLY:
            distance = 1 / self.start.zoom + (1 / self.end.zoom - 1 / self.start.zoom) * e
            zoom = 1 / distance
        else:
            zoom = self.start.zoom * (self.end.zoom / self.start.zoom) ** e
        return CameraState(
            zoom,
            self.start.center_x + (self.end.center_x - self.start.center_x) * e,
            self.start.center_y + (self.end.center_y - self.start.center_y) * e,
        ).clamped()


def plan_path(move: CameraMove, start: CameraState, seconds: float) -> CameraPath:
    """The path `move` takes over `seconds` from `start`, which the previous segment ended on.

    A pan or tilt that has no room at the start's zoom zooms in as it goes (up to PAN_ROOM_ZOOM);
    beyond that it stops at the picture's edge.
    """
    start = start.clamped()
    travel_x, travel_y = _travel(move, seconds)
    center_x, center_y = start.center_x + travel_x, start.center_y + travel_y
    room_zoom = max(_zoom_to_reach(center_x) if travel_x else 1.0, _zoom_to_reach(center_y) if travel_y else 1.0)
    zoom = max(start.zoom * _zoom_factor(move, seconds), min(PAN_ROOM_ZOOM, room_zoom))
    return CameraPath(start, CameraState(zoom, center_x, center_y).clamped(), move.zoom_style)


def opening_state(move: CameraMove, seconds: float) -> CameraState:
    """Where the first move starts so that it has room: a zoom-out starts zoomed in, a pan starts on
    the side it moves away from, zoomed in just enough for its travel."""
    travel_x, travel_y = _travel(move, seconds)
    start_x, start_y = 0.5 - travel_x / 2, 0.5 - travel_y / 2
    zoom = 1 / _zoom_factor(move, seconds) if move.zoom < 0 else 1.0
    zoom = max(zoom, _zoom_to_reach(start_x + travel_x), _zoom_to_reach(start_y + travel_y))
    return CameraState(zoom, start_x, start_y).clamped()


@dataclass(frozen=True)
class CameraTimeline:
    """Consecutive paths, each over its segment's seconds; each starts where the one before ended."""

    paths: tuple[CameraPath, ...]
    durations: tuple[float, ...]

    @property
    def total_seconds(self) -> float:
        return sum(self.durations)

    @property
    def max_zoom(self) -> float:
        return max(max(path.start.zoom, path.end.zoom) for path in self.paths)

    @cached_property
    def _segment_ends(self) -> list[float]:
        return list(itertools.accumulate(self.durations))

    def at(self, seconds: float) -> CameraState:
        ends = self._segment_ends
        index = min(bisect.bisect_left(ends, seconds), len(self.paths) - 1)
        segment_start = ends[index] - self.durations[index]
        local = (seconds - segment_start) / self.durations[index] if self.durations[index] > 0 else 1.0
        return self.paths[index].at(local)


def plan_camera(moves: Sequence[tuple[CameraMove, float]]) -> CameraTimeline:
    """Chain (move, seconds) pairs into one continuous timeline."""
    moves = [(move, seconds) for move, seconds in moves if seconds > 0]
    if not moves:
        raise ValueError("a camera plan needs at least one segment with a positive duration")
    state = opening_state(*moves[0])
    paths = []
    for move, seconds in moves:
        path = plan_path(move, state, seconds)
        paths.append(path)
        state = path.end
    return CameraTimeline(tuple(paths), tuple(seconds for _, seconds in moves))


def _zoom_factor(move: CameraMove, seconds: float) -> float:
    """Magnification at the end of the move relative to its start (< 1 for zooming out)."""
    if not move.zoom:
        return 1.0
    amount = move.speed.value * seconds
    if move.zoom_style is ZoomStyle.DOLLY:
        factor = 1 / (1 - min(MAX_DOLLY_APPROACH, DOLLY_APPROACH_PER_SECOND * amount))
    else:
        factor = math.exp(LENS_ZOOM_PER_SECOND * amount)
    return factor if move.zoom > 0 else 1 / factor


def _travel(move: CameraMove, seconds: float) -> tuple[float, float]:
    distance = min(MAX_PAN, PAN_PER_SECOND * move.speed.value * seconds)
    return move.pan * distance, move.tilt * distance


def _zoom_to_reach(center: float) -> float:
    """The least zoom at which the view can be centred here without leaving the picture."""
    margin = min(center, 1 - center)
    return 0.5 / margin if margin > 0.5 / MAX_ZOOM else MAX_ZOOM


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)
