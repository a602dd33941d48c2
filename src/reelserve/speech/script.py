"""The lines a prompt gives the voices of `voice_list`, parsed into a Script the worker speaks.

Kling ties lines to voices with markers: `The man<<<voice_1>>> said, "Hello."` gives the quoted lines
after `<<<voice_N>>>` (until the next marker) to the N-th voice of `voice_list`. With one voice and no
marker every quoted line is that voice's (GPTProto's `cat say:"hi"`). Quotes may be straight ("..."),
curly (“...”) or Chinese/Japanese corner brackets (「...」, 『...』). `multi_prompt` segments carry their
own lines, spoken within their segment; the current voice carries on from one segment to the next.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from reelserve.errors import InputError
from reelserve.speech.timing import RATE_DESCRIPTION, natural_seconds, place, seconds_needed

_MARKER = re.compile(r"<<<(.*?)>>>", re.DOTALL)
_VOICE_MARKER = re.compile(r"\s*voice_(\d+)\s*", re.IGNORECASE)
_CLOSERS = {'"': '"”', "“": '”"', "「": "」", "『": "』"}
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Line:
    voice: int
    """1-based, in the order of voice_list."""
    text: str
    segment: int
    """1-based; 1 without multi_prompt."""
    start: float
    """Seconds into the video where the line starts."""
    end: float
    """The latest the line may end."""


@dataclass(frozen=True)
class Script:
    lines: tuple[Line, ...]
    voices: int
    backend: str
    voice_match: str
    """"cloned" (a model that clones the sample) or "approximate" (speech moved toward it)."""

    @property
    def speaks(self) -> bool:
        return bool(self.lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "voice_match": self.voice_match,
            "voices": self.voices,
            "lines": [asdict(line) for line in self.lines],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Script:
        return cls(
            lines=tuple(Line(**line) for line in data["lines"]),
            voices=data["voices"],
            backend=data["backend"],
            voice_match=data["voice_match"],
        )


@dataclass(frozen=True)
class _Quoted:
    voice: int
    text: str


def parse_script(
    prompt: str,
    duration: float,
    segments: list[tuple[str, float]] | None,
    voices: int,
    *,
    backend: str,
    voice_match: str,
) -> Script:
    """The lines of `prompt` (or of each segment's prompt) placed in time; InputError for what cannot be said.

    `segments` is (prompt, seconds) per multi_prompt segment, or None for one stretch of `duration` seconds.
    """
    reader = _LineReader(voices)
    if segments:
        reader.voice = 1  # only whether it has lines matters here
        if reader.read(prompt, "prompt"):
            raise InputError(
                "with multi_prompt the lines to speak go in the segments' prompts, where they are spoken; "
                "the main prompt has quoted lines",
                param="prompt",
            )
        reader = _LineReader(voices)
    stretches = segments or [(prompt, float(duration))]
    lines: list[Line] = []
    offset = 0.0
    for index, (text, seconds) in enumerate(stretches, start=1):
        param = f"multi_prompt[{index - 1}].prompt" if segments else "prompt"
        quoted = reader.read(text, param)
        durations = [natural_seconds(line.text) for line in quoted]
        needed = seconds_needed(durations)
        if needed > seconds + 1e-9:
            where = f"segment {index} is" if segments else "the video is"
            raise InputError(
                f"the lines need about {needed:.1f} s at a natural speaking rate ({RATE_DESCRIPTION}) with short "
                f"pauses between them, but {where} {seconds:g} s long; shorten the lines or give them more time",
                param=param,
            )
        for line, spot in zip(quoted, place(durations, offset, offset + seconds), strict=True):
            lines.append(Line(line.voice, line.text, index, spot.start, spot.end))
        offset += seconds
    return Script(tuple(lines), voices, backend, voice_match)


class _LineReader:
    """Reads quoted lines in order; the voice a marker sets holds until the next marker, across segments."""

    def __init__(self, voices: int) -> None:
        self.voices = voices
        self.voice: int | None = 1 if voices == 1 else None

    def read(self, text: str, param: str) -> list[_Quoted]:
        lines: list[_Quoted] = []
        position = 0
        while position < len(text):
            char = text[position]
            if text.startswith("<<<", position):
                marker = _MARKER.match(text, position)
                if marker is None:
                    raise InputError(
                        f"a marker opened at character {position + 1} is never closed with >>>", param=param
                    )
                self.voice = _marker_voice(marker.group(1), self.voices, param)
                position = marker.end()
            elif char in _CLOSERS:
                end = _closing(text, position, char)
                if end is None:
                    raise InputError(
                        f"the quote {char} opened at character {position + 1} is never closed", param=param
                    )
                spoken = _SPACES.sub(" ", _MARKER.sub(" ", text[position + 1 : end])).strip()
                if spoken:
                    lines.append(_Quoted(self._voice_for(spoken, param), spoken))
                position = end + 1
            else:
                position += 1
        return lines

    def _voice_for(self, spoken: str, param: str) -> int:
        if self.voice is None:
            raise InputError(
                f'the line "{_short(spoken)}" has no <<<voice_N>>> marker before it, and voice_list has '
                f"{self.voices} voices: put <<<voice_1>>> or <<<voice_2>>> after the character who says it",
                param=param,
            )
        return self.voice


def _closing(text: str, opened: int, opener: str) -> int | None:
    closers = _CLOSERS[opener]
    for index in range(opened + 1, len(text)):
        if text[index] in closers:
            return index
    return None


def _marker_voice(body: str, voices: int, param: str) -> int:
    match = _VOICE_MARKER.fullmatch(body)
    if match is None:
        raise InputError(f"unknown marker <<<{body}>>>: markers are <<<voice_1>>> and <<<voice_2>>>", param=param)
    number = int(match.group(1))
    if not 1 <= number <= voices:
        given = "1 voice" if voices == 1 else f"{voices} voices"
        raise InputError(
            f"the marker <<<voice_{number}>>> names voice {number}, but voice_list has {given}", param=param
        )
    return number


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."
