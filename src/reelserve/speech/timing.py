"""How long lines take at a natural speaking rate, and where they go in the video.

A line is estimated at 150 words a minute (2.5 words a second, conversational English) and, for Chinese,
Japanese and Korean, 4 syllables (characters) a second. Lines are placed in order within their stretch of
the video, never overlapping, at least a short breath apart, with the time left over spread evenly before,
between and after them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WORDS_PER_SECOND = 2.5
SYLLABLES_PER_SECOND = 4.0
MIN_LINE_SECONDS = 0.4
MIN_PAUSE_SECONDS = 0.3
"""The shortest pause between two lines: a breath, or the turn from one speaker to the other."""
MIN_LEAD_SECONDS = 0.2
"""Speech starts this long after its stretch of the video begins, at the earliest."""
MAX_LEAD_SECONDS = 1.0
TAIL_SECONDS = 0.1
"""A line's window stops this short of the end of its stretch, so no word is cut by the cut."""

RATE_DESCRIPTION = "150 words a minute; 4 syllables a second in Chinese, Japanese and Korean"

# One syllable each: CJK ideographs, kana and Hangul syllables.
_SYLLABIC = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


@dataclass(frozen=True)
class Placement:
    start: float
    end: float
    """The latest the line may end: the next line's start less a pause, or the end of its stretch."""


def natural_seconds(text: str) -> float:
    """How long `text` takes to say at a natural rate."""
    syllables = len(_SYLLABIC.findall(text))
    words = len(_WORD.findall(_SYLLABIC.sub(" ", text)))
    return max(MIN_LINE_SECONDS, words / WORDS_PER_SECOND + syllables / SYLLABLES_PER_SECOND)


def seconds_needed(durations: list[float]) -> float:
    """The shortest stretch of video that holds lines of these durations, with their pauses."""
    if not durations:
        return 0.0
    return MIN_LEAD_SECONDS + sum(durations) + MIN_PAUSE_SECONDS * (len(durations) - 1) + TAIL_SECONDS


def place(durations: list[float], start: float, end: float) -> list[Placement]:
    """Windows for lines of these durations between `start` and `end`, which `seconds_needed` says fit."""
    if not durations:
        return []
    spare = max(0.0, (end - start) - seconds_needed(durations))
    share = spare / (len(durations) + 1)
    lead = MIN_LEAD_SECONDS + min(share, MAX_LEAD_SECONDS - MIN_LEAD_SECONDS)
    # What the capped lead leaves over goes to the pauses and the tail.
    share += (share - (lead - MIN_LEAD_SECONDS)) / len(durations)
    starts = []
    at = start + lead
    for seconds in durations:
        starts.append(at)
        at += seconds + MIN_PAUSE_SECONDS + share
    ends = [following - MIN_PAUSE_SECONDS for following in starts[1:]] + [end - TAIL_SECONDS]
    return [Placement(round(s, 3), round(e, 3)) for s, e in zip(starts, ends, strict=True)]
