"""Request parameters of the open-model routes (Wan, LTX-Video, LTX-2), named as WaveSpeed names them.

A route takes the base model of its family plus the optional parameters it turns on with `features`
(`negative_prompt`, `end_image` (wire name `last_image`), `size`, `resolution`, `aspect_ratio`); the
allowed values, defaults and limits of each come from the route's `limits` table.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from reelserve.catalog.params import MAX_PROMPT_CHARS, PromptAndDuration, field_or_none

MAX_SEED = 2**31 - 1
SIZE_PATTERN = r"^[1-9][0-9]{1,4}\*[1-9][0-9]{1,4}$"


class OpenVideoParams(PromptAndDuration):
    """What every open-model route takes."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    prompt: str = Field(max_length=MAX_PROMPT_CHARS, description="The prompt for generating the output.")
    duration: int = Field(default=5, ge=1, le=60, description="Seconds of video.")
    seed: int | None = Field(
        default=-1, ge=-1, le=MAX_SEED, validate_default=True,
        description="The random seed; -1 (the default) picks one at random.",
    )
    enable_sync_mode: bool = Field(default=False, description="Answer when the prediction ends.")

    @field_validator("seed")
    @classmethod
    def _random_seed(cls, value: int | None) -> int | None:
        return None if value == -1 else value


class ImageToVideoBase(OpenVideoParams):
    image: str = Field(
        description="The image for generating the output: an http(s) URL, a data: URI, raw base64, "
        "or an upload URL of this server.",
    )


class TextToVideoBase(OpenVideoParams):
    pass


class NegativePromptParam(BaseModel):
    negative_prompt: str | None = Field(
        default=None, max_length=MAX_PROMPT_CHARS, description="The negative prompt for generating the output."
    )


class LastImageParam(BaseModel):
    end_image: str | None = Field(
        default=None,
        validation_alias=AliasChoices("last_image", "end_image"),
        description="The last frame of the video (alias: end_image).",
    )


class SizeParam(BaseModel):
    size: str | None = Field(
        default=None, pattern=SIZE_PATTERN, description="The size of the output as width*height, e.g. 1280*720."
    )


class ResolutionParam(BaseModel):
    resolution: Literal["480p", "720p", "1080p"] | None = Field(default=None, description="Output resolution.")


class AspectRatioParam(BaseModel):
    aspect_ratio: Literal["16:9", "9:16", "1:1"] | None = Field(default=None, description="Output aspect ratio.")


OPEN_FEATURES: dict[str, type[BaseModel]] = {
    "negative_prompt": NegativePromptParam,
    "end_image": LastImageParam,
    "size": SizeParam,
    "resolution": ResolutionParam,
    "aspect_ratio": AspectRatioParam,
}


def aspect_ratio_of_size(size: str | None) -> str | None:
    """ "1280*720" -> "16:9"; the ratio engines size their frames by."""
    if not size or "*" not in size:
        return None
    width, height = (int(part) for part in size.split("*", 1))
    ratio = Fraction(width, height)
    return f"{ratio.numerator}:{ratio.denominator}"


def _aspect_ratio(params: Any) -> str | None:
    return aspect_ratio_of_size(field_or_none(params, "size"))


DERIVED_ATTRIBUTES: dict[str, property] = {
    "image": property(lambda params: None),
    "aspect_ratio": property(_aspect_ratio),
    "sound": property(lambda params: None),
    "guidance_scale": property(lambda params: None),
}
"""What the rules read of every request (service/capabilities.py), for a route whose family has no such
parameter: no image (text-to-video), the ratio of `size`, sound as the engine makes it, no guidance."""
