"""Refusals that follow from what the bound engine can do, checked before anything is fetched."""

from __future__ import annotations

from reelserve.catalog.params import ImageToVideoParams
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
            f"this route is served by the {engine_name} engine, which makes no sound; "
            "set sound to false or leave it out",
            param="sound",
        )
    if getattr(params, "voice_list", None) and not caps.voices:
        raise InputError(
            f"this route is served by the {engine_name} engine, which cannot use custom voices",
            param="voice_list",
        )
    if getattr(params, "end_image", None) is not None and not caps.end_frame:
        raise InputError(
            f"this route is served by the {engine_name} engine, which cannot follow an end frame",
            param="end_image",
        )
    if getattr(params, "multi_prompt", None) and not caps.multi_prompt:
        raise InputError(
            f"this route is served by the {engine_name} engine, which cannot follow multi_prompt segments",
            param="multi_prompt",
        )


def effective_sound(params: ImageToVideoParams, caps: EngineCapabilities) -> bool:
    return caps.sound if params.sound is None else params.sound
