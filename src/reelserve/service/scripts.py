"""The speech script of a request with voice_list: its quoted lines, their voices and their times."""

from __future__ import annotations

from reelserve.catalog.params import ImageToVideoParams, field_or_none, segment_plan
from reelserve.speech.options import SpeechOptions
from reelserve.speech.script import Script, parse_script


def script_for(params: ImageToVideoParams, speech: SpeechOptions) -> Script | None:
    """None without voice_list; InputError where the lines cannot be honoured (see speech/script.py)."""
    voices = field_or_none(params, "voice_list")
    if not voices:
        return None
    segments = segment_plan(params) if field_or_none(params, "multi_prompt") else None
    return parse_script(
        params.prompt, params.duration, segments, len(voices), backend=speech.backend, voice_match=speech.voice_match
    )
