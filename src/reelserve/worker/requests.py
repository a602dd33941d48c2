"""From stored request parameters (and decoded images, or their facts at submit) to what an engine is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reelserve.engines.base import GenerationRequest, ImageT, Segment
from reelserve.speech.script import Script


def generation_request(
    params: dict[str, Any],
    image: ImageT | None,
    end_image: ImageT | None,
    voice_samples: list[Path] | None = None,
) -> GenerationRequest[ImageT]:
    return GenerationRequest(
        prompt=params["prompt"],
        segments=[Segment(prompt=prompt, duration=seconds) for prompt, seconds in params["segments"]],
        duration=params["duration"],
        aspect_ratio=params["aspect_ratio"],
        image=image,
        end_image=end_image,
        negative_prompt=params.get("negative_prompt"),
        guidance_scale=params.get("guidance_scale"),
        sound=params["sound"],
        voice_samples=voice_samples or [],
        seed=params.get("seed"),
        script=Script.from_json(params["script"]) if params.get("script") else None,
        params={name: value for name, value in params.items() if name not in ("segments", "script")},
    )
