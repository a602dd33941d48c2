"""The script parser and the placement of lines in time, without a server (the HTTP cases are in
test_speech_api.py)."""

from __future__ import annotations

import itertools

import pytest

from reelserve.errors import InputError
from reelserve.speech.script import Script, parse_script
from reelserve.speech.timing import MIN_PAUSE_SECONDS, natural_seconds, place, seconds_needed


def parse(prompt: str, voices: int = 2, duration: float = 10, segments: list | None = None) -> Script:
    return parse_script(prompt, duration, segments, voices, backend="approximate", voice_match="approximate")


def test_markers_carry_until_the_next_and_quotes_of_every_kind_count() -> None:
    script = parse('A<<<voice_2>>> "one" and “two” B<<< Voice_1 >>> 「三」 『four』 "five”')
    assert [(line.voice, line.text) for line in script.lines] == [
        (2, "one"), (2, "two"), (1, "三"), (1, "four"), (1, "five")
    ]
    assert Script.from_json(script.as_json()) == script


def test_lines_are_in_order_apart_and_spread_over_the_duration() -> None:
    script = parse('<<<voice_1>>> "Hello there." <<<voice_2>>> "Hi." <<<voice_1>>> "How are you?"', duration=12)
    lines = script.lines
    assert lines[0].start <= 1.0
    for before, after in itertools.pairwise(lines):
        assert after.start - before.end == pytest.approx(MIN_PAUSE_SECONDS)
        assert after.start - before.start > natural_seconds(before.text)
    assert lines[-1].end == pytest.approx(12 - 0.1)
    gaps = [after.start - before.start - natural_seconds(before.text) for before, after in itertools.pairwise(lines)]
    assert gaps[0] == pytest.approx(gaps[1], abs=0.002), "the spare time is spread evenly (to the ms)"


def test_natural_rate_and_what_fits() -> None:
    assert natural_seconds("one two three four five") == pytest.approx(2.0)
    assert natural_seconds("你好世界") == pytest.approx(1.0)
    assert natural_seconds("Hi") == pytest.approx(0.4), "no line is shorter than 0.4 s"
    needed = seconds_needed([2.0, 1.0])
    assert needed == pytest.approx(0.2 + 3.0 + 0.3 + 0.1)
    spots = place([2.0, 1.0], 5.0, 5.0 + needed)
    assert [(spot.start, spot.end) for spot in spots] == [(5.2, 7.2), (7.5, 8.5)]


def test_segments_hold_their_own_lines() -> None:
    segments = [('<<<voice_1>>> "first"', 4.0), ('"second" <<<voice_2>>> "third"', 6.0)]
    lines = parse("main", segments=segments).lines
    assert [(line.voice, line.segment) for line in lines] == [(1, 1), (1, 2), (2, 2)]
    assert lines[0].end <= 4.0 <= lines[1].start
    with pytest.raises(InputError, match="go in the segments' prompts") as refused:
        parse('main "line"', segments=segments)
    assert refused.value.param == "prompt"


@pytest.mark.parametrize(
    ("prompt", "voices", "message"),
    [
        ('<<<voice_0>>> "x"', 2, "names voice 0"),
        ('<<<voice_2>>> "x"', 1, "but voice_list has 1 voice"),
        ('<<<speaker>>> "x"', 1, "unknown marker <<<speaker>>>"),
        ('<<<voice_1 "x"', 1, "never closed with >>>"),
        ("「open", 1, "the quote 「 opened at character 1 is never closed"),
        ('"x"', 2, "has no <<<voice_N>>> marker before it"),
    ],
)
def test_what_cannot_be_honoured_is_refused(prompt: str, voices: int, message: str) -> None:
    with pytest.raises(InputError, match=message) as refused:
        parse(prompt, voices)
    assert refused.value.param == "prompt"
