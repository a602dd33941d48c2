"""The wire models of GPTProto's unified video API, as its SDK (`gptproto` on PyPI, generated from GPTProto's
OpenAPI description: `gptproto.models`) defines them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_NAME = 200
MAX_FRAMES = 2
MAX_REFERENCES = 8

Resolution = Literal["480p", "720p", "1080p", "1K", "2K", "4K", "512", "512p", "540p", "768p"]
AspectRatio = Literal["auto", "16:9", "3:2", "4:3", "2:3", "3:4", "9:16", "1:1", "9:21", "21:9"]
TaskStatus = Literal["pending", "in_progress", "completed", "failed", "cancelled", "expired"]


class ImageUrl(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: str = Field(description="An http(s) URL, a data: URI, raw base64, or an upload URL of this server.")


class FrameImage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["image_url"] = "image_url"
    frame_type: Literal["first_frame", "last_frame"]
    image_url: ImageUrl


class ReferenceAsset(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["image_url", "video_url", "audio_url"]
    image_url: ImageUrl


class ProviderOption(BaseModel):
    model_config = ConfigDict(extra="ignore")

    parameters: dict[str, Any] = Field(default_factory=dict, description="The route's own parameters, by v3 name.")


class ProviderOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    options: dict[str, ProviderOption] | None = Field(default=None, description="Keyed by provider slug.")


class UnifiedVideoRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(max_length=MAX_NAME, description="A model slug (e.g. kwaivgi/kling-v2.5) or a route id.")
    prompt: str
    mode: str = Field(default="auto", max_length=64, description="auto, image-to-video or text-to-video.")
    duration: int | None = None
    resolution: Resolution | None = None
    aspect_ratio: AspectRatio | None = None
    size: str | None = Field(default=None, pattern=r"^[1-9][0-9]{0,4}[x*][1-9][0-9]{0,4}$", examples=["1280x720"])
    frame_images: list[FrameImage] | None = Field(default=None, max_length=MAX_FRAMES)
    input_references: list[ReferenceAsset] | None = Field(default=None, max_length=MAX_REFERENCES)
    generate_audio: bool | None = None
    seed: int | None = None
    negative_prompt: str | None = None
    provider: ProviderOptions | None = None


class UnifiedTaskResult(BaseModel):
    id: str
    status: TaskStatus
    polling_url: str
    model: str | None = None
    native_status: str | None = None
    unsigned_urls: list[str] | None = None
    error: str | None = None
    created_at: str | None = None
    completed_at: str | None = None
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    progress: int | None = None
