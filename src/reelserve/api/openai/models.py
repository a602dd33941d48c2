"""The wire models of OpenAI's Videos API, as the `openai` package (3.x, `openai.types.video`) defines them: what
the routes read, and what the OpenAPI document says they answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SIZE_PATTERN = r"^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$"
MAX_NAME = 200
MAX_LIST = 100


class InputReference(BaseModel):
    """An image that guides the video (its first frame): a URL, a `data:` URL, or this server's upload URL."""

    model_config = ConfigDict(extra="ignore")

    image_url: str | None = Field(default=None, description="An http(s) URL, a data: URL or raw base64.")
    file_id: str | None = Field(default=None, description="Not supported by reelserve: send the file instead.")


class VideoCreate(BaseModel):
    """`POST /v1/videos` as JSON; multipart sends the same fields, `input_reference` as a file."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(description="What the video shows.")
    model: str | None = Field(
        default=None, max_length=MAX_NAME,
        description="A route id of this server, or an alias from its catalog; defaults to the seed's route.",
    )
    seconds: str | None = Field(default=None, description="Whole seconds: the route's `duration`.")
    size: str | None = Field(
        default=None, pattern=SIZE_PATTERN, description="WIDTHxHEIGHT: the route's aspect ratio, size or resolution."
    )
    input_reference: InputReference | str | None = Field(
        default=None, description="The first frame: an object with image_url, a URL string, or (multipart) a file."
    )

    @field_validator("seconds", mode="before")
    @classmethod
    def _whole_seconds(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a whole number of seconds, e.g. \"5\"")
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str) and not (value.strip().isascii() and value.strip().isdigit()):
            raise ValueError("must be a whole number of seconds, e.g. \"5\"")
        return value.strip() if isinstance(value, str) else value


class VideoRemix(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(description="The new prompt; the rest of the request is the source video's.")


class VideoListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    after: str | None = Field(default=None, max_length=MAX_NAME, description="The last id of the previous page.")
    limit: int = Field(default=20, ge=1, le=MAX_LIST)
    order: Literal["asc", "desc"] = "desc"


class VideoError(BaseModel):
    code: str
    message: str
    param: str | None = None
    type: str | None = None


class Video(BaseModel):
    id: str
    object: Literal["video"] = "video"
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    created_at: int
    completed_at: int | None
    expires_at: int | None
    prompt: str | None
    remixed_from_video_id: str | None
    seconds: str
    size: str
    error: VideoError | None


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Video]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool
