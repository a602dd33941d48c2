"""Refusals that follow from what the bound engine can do, checked before anything is fetched."""

from __future__ import annotations

import dataclasses

from reelserve.catalog.params import ImageToVideoParams, field_or_none
from reelserve.engines.base import EngineCapabilities
from reelserve.errors import InputError


def check_engine_can_serve(params: ImageToVideoParams, engine_name: str, caps: EngineCapabilities) -> None:
    if params.image is None:
        if not caps.text_to_video:
            raise InputError(
                f"this route is served by the {engine_name} engine, which needs an image: "
                "send `image` (a URL, a data: URI or base64)",
                param="image",
            )
        if params.aspect_ratio is None:
            raise InputError("aspect_ratio is required when no image is given", param="aspect_ratio")
    if params.sound is True and not caps.sound:
        raise InputError(
            f"this route is served by the {engine_name} engine, which makes no sound of its own, and no voice_list "
            "line is there to speak (a quoted line in the prompt); set sound to false or leave it out",
            param="sound",
        )
    if field_or_none(params, "voice_list") and not caps.voices:
        raise InputError(
            f"this route is served by the {engine_name} engine, which cannot use custom voices",
            param="voice_list",
        )
    if field_or_none(params, "end_image") is not None and not caps.end_frame:
        raise InputError(
            f"this route is served by the {engine_name} engine, which cannot follow an end frame",
            param="end_image",
        )
    if field_or_none(params, "multi_prompt") and not caps.multi_prompt:
        raise InputError(
            f"this route is served by the {engine_name} engine, which cannot follow multi_prompt segments",
            param="multi_prompt",
        )


def with_speech(caps: EngineCapabilities, speaks: bool) -> EngineCapabilities:
    """The route's abilities with the speech stage after its engine: custom voices on every engine that hands
    back frames, and sound wherever there are lines to speak (the speech is the video's sound, or is mixed into
    the engine's)."""
    if caps.encoded_output:
        return caps
    return dataclasses.replace(caps, voices=True, sound=caps.sound or speaks)


def effective_sound(params: ImageToVideoParams, caps: EngineCapabilities) -> bool:
    return caps.sound if params.sound is None else params.sound
