"""Request parameters of the image-to-video routes, as the seed's parameter table states them."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from reelserve.errors import InputError

MAX_PROMPT_CHARS = 2500
ASPECT_RATIOS = ("16:9", "1:1", "9:16")
MAX_VOICES = 2
MAX_SEGMENTS = 6

AspectRatio = Literal["16:9", "1:1", "9:16"]


class MultiPromptSegment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    index: int = Field(ge=1, description="The index of the segment, starting from 1.")
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    duration: str = Field(description="The duration of this segment in seconds, as a string.")

    @field_validator("duration", mode="before")
    @classmethod
    def _accept_number(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    def seconds(self) -> Decimal:
        try:
            seconds = Decimal(self.duration.strip())
        except InvalidOperation:
            raise ValueError(f"'{self.duration}' is not a number of seconds") from None
        if not seconds.is_finite() or seconds <= 0:
            raise ValueError(f"'{self.duration}' must be a positive number of seconds")
        return seconds


class VoiceRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    voice_id: str = Field(min_length=1, max_length=64)


class ImageToVideoParams(BaseModel):
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

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("duration", mode="before")
    @classmethod
    def _whole_seconds(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be an integer number of seconds")
        if isinstance(value, str):
            return value.strip()
        return value


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


def check_cross_field_rules(params: ImageToVideoParams) -> None:
    """Rules that span fields; pydantic has already checked each field alone."""
    segments: list[MultiPromptSegment] | None = getattr(params, "multi_prompt", None)
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
                total += segment.seconds()
            except ValueError as exc:
                raise InputError(
                    f"multi_prompt[{position - 1}].duration: {exc}",
                    param=f"multi_prompt[{position - 1}].duration",
                ) from None
        if total != params.duration:
            raise InputError(
                f"multi_prompt durations add up to {total} s but duration is {params.duration} s; "
                "they must be equal",
                param="multi_prompt",
            )
    voices = getattr(params, "voice_list", None)
    if voices and params.sound is False:
        raise InputError("voice_list needs sound set to true", param="voice_list")


def segment_plan(params: ImageToVideoParams) -> list[tuple[str, float]]:
    """(prompt, seconds) for each stretch of the video; one stretch without multi_prompt."""
    segments: list[MultiPromptSegment] | None = getattr(params, "multi_prompt", None)
    if not segments:
        return [(params.prompt, float(params.duration))]
    return [(segment.prompt, float(segment.seconds())) for segment in segments]
