"""Request parameters of the image-to-video routes, as the seed's parameter table states them."""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from reelserve.errors import InputError

MAX_PROMPT_CHARS = 2500
ASPECT_RATIOS = ("16:9", "1:1", "9:16")
MAX_VOICES = 2
MAX_SEGMENTS = 6
MIN_SEGMENT_SECONDS = Decimal(1)
MAX_SEGMENT_DURATION_CHARS = 16
# Enough digits for six terms of MAX_SEGMENT_DURATION_CHARS each: their sum is never rounded.
EXACT_SUM_DIGITS = 2 * MAX_SEGMENT_DURATION_CHARS + MAX_SEGMENTS
# A segment's seconds in plain decimal notation: '2', '2.5', '.5'. No exponents, signs, or other digits than
# ASCII ones, so that no value overflows.
_PLAIN_SECONDS = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")

AspectRatio = Literal["16:9", "1:1", "9:16"]


class MultiPromptSegment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    index: int = Field(ge=1, description="The index of the segment, starting from 1.")
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    duration: str = Field(
        description=f"The duration of this segment in seconds, as a string: at least {MIN_SEGMENT_SECONDS} s.",
    )

    @field_validator("duration", mode="before")
    @classmethod
    def _accept_number(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return repr(value)
        return value

    def seconds(self) -> Decimal:
        """The exact number of seconds written; ValueError for anything but a plain decimal of at least
        MIN_SEGMENT_SECONDS."""
        text = self.duration.strip()
        shown = text if len(text) <= 20 else text[:17] + "..."
        if len(text) > MAX_SEGMENT_DURATION_CHARS:
            raise ValueError(f"'{shown}' is longer than {MAX_SEGMENT_DURATION_CHARS} characters")
        if not _PLAIN_SECONDS.fullmatch(text):
            raise ValueError(f"'{shown}' is not a number of seconds written like 2 or 2.5")
        seconds = Decimal(text)
        if seconds < MIN_SEGMENT_SECONDS:
            raise ValueError(f"a segment lasts at least {MIN_SEGMENT_SECONDS} s (got {text})")
        return seconds


class VoiceRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    voice_id: str = Field(min_length=1, max_length=64)


class PromptAndDuration(BaseModel):
    """The rules on `prompt` and `duration` every route family shares (each declares the fields itself)."""

    @field_validator("prompt", check_fields=False)
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("duration", mode="before", check_fields=False)
    @classmethod
    def _whole_seconds(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be an integer number of seconds")
        if isinstance(value, str):
            return value.strip()
        return value


class ImageToVideoParams(PromptAndDuration):
    """The parameters every image-to-video route takes."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    prompt: str = Field(
        max_length=MAX_PROMPT_CHARS, description="The positive prompt for the generation."
    )
    negative_prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    image: str | None = Field(
        default=None,
        description="Source image: an http(s) URL, a data: URI, raw base64, or an upload URL of this server.",
    )
    sound: bool | None = Field(
        default=None,
        description="Defaults to true: with sound where the serving engine makes sound.",
    )
    aspect_ratio: AspectRatio | None = Field(
        default=None, description="Defaults to 16:9; required when no image is given."
    )
    duration: int = Field(default=5, ge=3, le=15, description="Seconds of video.")
    guidance_scale: float | None = Field(
        default=None, ge=0, le=1, validation_alias=AliasChoices("guidance_scale", "cfg_scale")
    )
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1, description="For reproducible output.")
    enable_sync_mode: bool = Field(default=False, description="Answer when the prediction ends.")
    enable_base64_output: bool = Field(
        default=False, description="Outputs as base64 of the MP4 instead of links (not with a webhook)."
    )



class EndFrameParams(BaseModel):
    end_image: str | None = Field(
        default=None,
        validation_alias=AliasChoices("end_image", "last_image", "image_tail"),
        description="The last frame of the video (aliases: last_image, image_tail).",
    )


class VoiceListParams(BaseModel):
    voice_list: list[VoiceRef] | None = Field(
        default=None, max_length=MAX_VOICES, description="Custom voice ids; needs sound true."
    )

    @field_validator("voice_list", mode="before")
    @classmethod
    def _bare_ids(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"voice_id": item} if isinstance(item, str) else item for item in value]
        return value


class MultiPromptParams(BaseModel):
    multi_prompt: list[MultiPromptSegment] | None = Field(
        default=None, min_length=1, max_length=MAX_SEGMENTS
    )


FEATURE_MIXINS: dict[str, type[BaseModel]] = {
    "end_image": EndFrameParams,
    "voice_list": VoiceListParams,
    "multi_prompt": MultiPromptParams,
}

FEATURE_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "end_image": ("end_image", "last_image", "image_tail"),
    "voice_list": ("voice_list",),
    "multi_prompt": ("multi_prompt",),
}


def field_or_none(params: BaseModel, name: str) -> Any:
    """The field's value where this route's parameters have such a field, else None: for the fields only some
    routes take (end_image, voice_list, multi_prompt, size). Pydantic keeps field values in the model's
    `__dict__`; `getattr` with a default would pay for pydantic's AttributeError on every field a route lacks."""
    return params.__dict__.get(name)


def check_cross_field_rules(params: ImageToVideoParams) -> None:
    """Rules that span fields; pydantic has already checked each field alone."""
    segments: list[MultiPromptSegment] | None = field_or_none(params, "multi_prompt")
    if segments:
        total = Decimal(0)
        for position, segment in enumerate(segments, start=1):
            if segment.index != position:
                raise InputError(
                    f"multi_prompt segments must be numbered 1, 2, 3... in order; "
                    f"segment {position} has index {segment.index}",
                    param=f"multi_prompt[{position - 1}].index",
                )
            try:
                seconds = segment.seconds()
            except ValueError as exc:
                raise InputError(
                    f"multi_prompt[{position - 1}].duration: {exc}",
                    param=f"multi_prompt[{position - 1}].duration",
                ) from None
            with localcontext(prec=EXACT_SUM_DIGITS):
                total += seconds
        if total != params.duration:
            raise InputError(
                f"multi_prompt durations add up to {total} s but duration is {params.duration} s; "
                "they must be equal",
                param="multi_prompt",
            )
    voices = field_or_none(params, "voice_list")
    if voices and params.sound is False:
        raise InputError("voice_list needs sound set to true", param="voice_list")


def segment_plan(params: ImageToVideoParams) -> list[tuple[str, float]]:
    """(prompt, seconds) for each stretch of the video; one stretch without multi_prompt."""
    segments: list[MultiPromptSegment] | None = field_or_none(params, "multi_prompt")
    if not segments:
        return [(params.prompt, float(params.duration))]
    return [(segment.prompt, float(segment.seconds())) for segment in segments]
