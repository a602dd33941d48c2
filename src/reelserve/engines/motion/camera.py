"""Camera moves read from a prompt's wording: a small table of phrases, easy to extend.

Each phrase sets one axis (zoom, pan or tilt, plus the zoom's style); where a prompt names several, the
earliest phrase on each axis wins, so "zoom in while panning right" sets both. Speed words (slowly,
quickly...) apply from the clause that names the move. A prompt naming no move gets DEFAULT_MOVE.
How far and along which path a move goes is `path.py`'s business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Speed(Enum):
    SLOW = 0.5
    NORMAL = 1.0
    FAST = 1.8


class ZoomStyle(Enum):
    LENS = "zoom"
    DOLLY = "dolly"


@dataclass(frozen=True)
class CameraMove:
    """What one prompt asks of the camera. Directions: zoom +1 in / -1 out, pan -1 left / +1 right,
    tilt -1 up / +1 down, 0 where the prompt says nothing."""

    zoom: int = 0
    zoom_style: ZoomStyle = ZoomStyle.LENS
    pan: int = 0
    tilt: int = 0
    speed: Speed = Speed.NORMAL

    def describe(self) -> str:
        parts = []
        if self.zoom:
            verb = self.zoom_style.value
            parts.append(f"{verb} {'in' if self.zoom > 0 else 'out'}")
        if self.pan:
            parts.append(f"pan {'left' if self.pan < 0 else 'right'}")
        if self.tilt:
            parts.append(f"tilt {'up' if self.tilt < 0 else 'down'}")
        if not parts:
            return "static"
        return f"{self.speed.name.lower()} {' + '.join(parts)}"


STATIC = CameraMove()
DEFAULT_MOVE = CameraMove(zoom=1, zoom_style=ZoomStyle.DOLLY, speed=Speed.SLOW)
"""A slow push-in, Ken Burns style, when the prompt names no camera move."""


def _verb(*stems: str) -> str:
    return r"\b(?:" + "|".join(stems) + ")"


def _camera(*stems: str) -> str:
    """Verbs that also describe what subjects do count only with the camera as their subject."""
    return r"\bcamera(?:\s+\w+ly)?\s+(?:" + "|".join(stems) + ")"


def _toward(*directions: str) -> str:
    """A gap for an adverb and 'to the' / 'towards' between a verb and its direction."""
    return r"(?:[\s-]+\w+ly)?(?:[\s-]+(?:to|towards?)(?:\s+the)?)?[\s-]+(?:" + "|".join(directions) + r")\b"


_PAN, _TRACK = r"pan(?:s|ned|ning)?", r"track(?:s|ed|ing)?"
_GENERIC = (
    r"mov(?:e|es|ed|ing)",
    r"glid(?:e|es|ed|ing)",
    r"drift(?:s|ed|ing)?",
    r"(?:fly|flies|flying|flew)",
    r"creep(?:s|ing)?|crept",
    r"slid(?:e|es|ing)",
    r"sweep(?:s|ing)?|swept",
    r"swing(?:s|ing)?|swung",
    r"scroll(?:s|ed|ing)?",
)
_ZOOMING = _verb(r"zoom(?:s|ed|ing)?")
_PUSHING = _verb(r"doll(?:y|ies|ied|ying)", _TRACK, r"push(?:es|ed|ing)?")
_PULLING = _verb(r"doll(?:y|ies|ied|ying)", _TRACK, r"pull(?:s|ed|ing)?")
_MOVING = _verb(*_GENERIC)
_RETREATING = _verb(*_GENERIC, r"back(?:s|ed|ing)?")
_CAMERA_MOVING = _camera(*_GENERIC)
_APPROACHING = _camera(r"approach(?:es|ed|ing)?", r"advanc(?:es|ed|ing)")
_RECEDING = _camera(r"retreat(?:s|ed|ing)?", r"reced(?:es|ed|ing)")
_PANNING = _verb(_PAN, _TRACK, r"truck(?:s|ed|ing)?", r"strafe[sd]?|strafing")
_TILTING = _verb(_PAN, r"tilt(?:s|ed|ing)?", r"cran(?:e|es|ed|ing)", r"pedestal(?:s|ed|ing)?", r"boom(?:s|ed|ing)?")
_RISING = _camera(r"ris(?:es|ing)|rose", r"ascend(?:s|ing)?", r"lift(?:s|ing)", r"climb(?:s|ing)")
_SINKING = _camera(r"descend(?:s|ing)?", r"lower(?:s|ing)", r"sink(?:s|ing)|sank", r"drop(?:s|ping)")
_STATIC = (
    r"\b(?:static|still|locked[\s-]?off|fixed|stationary|steady)\s+(?:camera|shot)\b"
    r"|\bno\s+camera\s+(?:movement|motion)\b"
    r"|\bcamera\s+(?:is\s+|stays\s+|remains\s+|holds\s+)?(?:still|static|steady|stationary)\b"
)
_IN, _OUT = ("in", "into", "closer", "inwards?", "forwards?"), ("out", "back", "backwards?", "away", "outwards?")
_LEFT, _RIGHT = ("left", "leftwards?"), ("right", "rightwards?")
_UP, _DOWN = ("up", "upwards?", "skywards?"), ("down", "downwards?", "groundwards?")
_LENS, _DOLLY = ZoomStyle.LENS, ZoomStyle.DOLLY

# (pattern, axis, direction, zoom style). On each axis the phrase found earliest in the prompt wins.
_PHRASE_TABLE: tuple[tuple[str, str, int, ZoomStyle], ...] = (
    (_ZOOMING + _toward(*_IN), "zoom", +1, _LENS),
    (_ZOOMING + _toward(*_OUT), "zoom", -1, _LENS),
    (r"\b(?:crash|snap)[\s-]+zoom", "zoom", +1, _LENS),
    (_PUSHING + _toward(*_IN), "zoom", +1, _DOLLY),
    (_MOVING + _toward("closer", "forwards?"), "zoom", +1, _DOLLY),
    (_CAMERA_MOVING + _toward(*_IN), "zoom", +1, _DOLLY),
    (_APPROACHING, "zoom", +1, _DOLLY),
    (_PULLING + _toward(*_OUT), "zoom", -1, _DOLLY),
    (_RETREATING + _toward("away", "back", "backwards?"), "zoom", -1, _DOLLY),
    (_CAMERA_MOVING + _toward(*_OUT), "zoom", -1, _DOLLY),
    (_RECEDING, "zoom", -1, _DOLLY),
    (_PANNING + _toward(*_LEFT), "pan", -1, _LENS),
    (_PANNING + _toward(*_RIGHT), "pan", +1, _LENS),
    (_CAMERA_MOVING + _toward(*_LEFT), "pan", -1, _LENS),
    (_CAMERA_MOVING + _toward(*_RIGHT), "pan", +1, _LENS),
    (_TILTING + _toward(*_UP), "tilt", -1, _LENS),
    (_TILTING + _toward(*_DOWN), "tilt", +1, _LENS),
    (_CAMERA_MOVING + _toward(*_UP), "tilt", -1, _LENS),
    (_CAMERA_MOVING + _toward(*_DOWN), "tilt", +1, _LENS),
    (_RISING, "tilt", -1, _LENS),
    (_SINKING, "tilt", +1, _LENS),
    (_STATIC, "static", 0, _LENS),
)

# Speed words count only in the clause that names the move, nearest to it ("a fast car; the camera
# slowly pans left" is a slow pan).
_SPEED_TABLE: tuple[tuple[str, Speed], ...] = (
    (
        r"\b(?:slow(?:ly|er)?|gentl[ey]|subtle|subtly|gradual(?:ly)?|leisurely|slight(?:ly)?|languid(?:ly)?"
        r"|unhurried(?:ly)?)\b",
        Speed.SLOW,
    ),
    (
        r"\b(?:fast(?:er)?|quick(?:ly|er)?|rapid(?:ly)?|swift(?:ly)?|sudden(?:ly)?|crash|snap|whip|brisk(?:ly)?"
        r"|speedy|hurried(?:ly)?)\b",
        Speed.FAST,
    ),
)
_CLAUSE_END = re.compile(r"[.;!?\n]")

_PHRASES = tuple((re.compile(pattern), axis, sign, style) for pattern, axis, sign, style in _PHRASE_TABLE)
_SPEEDS = tuple((re.compile(pattern), speed) for pattern, speed in _SPEED_TABLE)


def parse_camera_move(prompt: str) -> CameraMove:
    """The camera move a prompt describes; DEFAULT_MOVE when it describes none."""
    text = " ".join(prompt.lower().split())
    earliest: dict[str, tuple[re.Match[str], int, ZoomStyle]] = {}
    for pattern, axis, sign, style in _PHRASES:
        found = pattern.search(text)
        if found and (axis not in earliest or found.start() < earliest[axis][0].start()):
            earliest[axis] = (found, sign, style)
    moving = {axis: hit for axis, hit in earliest.items() if axis != "static"}
    if not moving:
        return STATIC if "static" in earliest else DEFAULT_MOVE
    first = min((hit[0] for hit in moving.values()), key=lambda found: found.start())
    zoom = moving.get("zoom")
    return CameraMove(
        zoom=zoom[1] if zoom else 0,
        zoom_style=zoom[2] if zoom else ZoomStyle.LENS,
        pan=moving["pan"][1] if "pan" in moving else 0,
        tilt=moving["tilt"][1] if "tilt" in moving else 0,
        speed=_speed_near(text, first),
    )


def _speed_near(text: str, move: re.Match[str]) -> Speed:
    clause_start = max((found.end() for found in _CLAUSE_END.finditer(text, 0, move.start())), default=0)
    clause_end = next((found.start() for found in _CLAUSE_END.finditer(text, move.end())), len(text))
    clause = text[clause_start:clause_end]
    middle = (move.start() + move.end()) / 2 - clause_start
    candidates = [
        (abs((found.start() + found.end()) / 2 - middle), speed)
        for pattern, speed in _SPEEDS
        for found in pattern.finditer(clause)
    ]
    return min(candidates, key=lambda hit: hit[0])[1] if candidates else Speed.NORMAL
