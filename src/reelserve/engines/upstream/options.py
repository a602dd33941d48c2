"""The options of a route bound to `engine = "upstream"`, as an operator writes them in reelserve.toml.

Credentials are never in the file: `api_key_env` (Kling: `access_key_env` and `secret_key_env`) names
the environment variable that holds them, read when the engine starts.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reelserve.engines.options import invalid_options

Provider = Literal["v3", "kling", "fal", "replicate"]

DEFAULT_BASE_URLS: dict[str, str] = {
    "v3": "https://api.wavespeed.ai",
    "kling": "https://api-singapore.klingai.com",
    "fal": "https://queue.fal.run",
    "replicate": "https://api.replicate.com",
}
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputOptions(_Strict):
    """How the route's parameters become the provider's input (after the provider's own renames)."""

    rename: dict[str, str] = Field(default_factory=dict, description="reelserve's name -> the provider's")
    fixed: dict[str, Any] = Field(default_factory=dict, description="values sent with every job")
    omit: list[str] = Field(default_factory=list, description="parameters not sent")
    as_string: list[str] = Field(default_factory=list, description="parameters sent as strings (fal: duration)")


class CapabilityOptions(_Strict):
    """What the hosted model can do; reelserve refuses the rest at submit (400) before charging."""

    sound: bool = False
    end_frame: bool = True
    text_to_video: bool = True
    multi_prompt: bool = True


class UpstreamOptions(_Strict):
    provider: Provider
    model: str = Field(min_length=1, description="the provider's route or model id")
    base_url: str | None = None
    api_key_env: str | None = None
    access_key_env: str | None = None
    secret_key_env: str | None = None
    version: str | None = Field(default=None, description="Replicate: a model version id instead of the model")
    auth_header: Literal["bearer", "raw"] = Field(
        default="bearer", description="v3: `Authorization: Bearer KEY` (WaveSpeed) or the bare key (GPTProto)"
    )
    request_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    timeout_seconds: float = Field(default=1800.0, gt=0, description="the longest a job may take upstream")
    poll_interval_seconds: float = Field(default=2.0, gt=0, le=60)
    prefer_wait_seconds: int = Field(default=5, ge=1, le=60, description="Replicate: Prefer: wait=N on submit")
    max_output_bytes: int = Field(default=500_000_000, ge=1024)
    download_timeout_seconds: float = Field(default=300.0, gt=0)
    input: InputOptions = Field(default_factory=InputOptions)
    capabilities: CapabilityOptions = Field(default_factory=CapabilityOptions)

    @model_validator(mode="after")
    def _credentials_named(self) -> UpstreamOptions:
        for name in ("api_key_env", "access_key_env", "secret_key_env"):
            value = getattr(self, name)
            if value is not None and not ENV_NAME.fullmatch(value):
                raise ValueError(f"{name} names an environment variable (letters, digits, _), not a credential")
        if self.provider == "kling":
            if self.access_key_env is None or self.secret_key_env is None:
                raise ValueError("the kling provider needs access_key_env and secret_key_env")
        elif self.api_key_env is None:
            raise ValueError(f"the {self.provider} provider needs api_key_env")
        if self.version is not None and self.provider != "replicate":
            raise ValueError("version applies to the replicate provider only")
        if self.auth_header != "bearer" and self.provider != "v3":
            raise ValueError("auth_header applies to the v3 provider only")
        return self

    @property
    def resolved_base_url(self) -> str:
        return self.base_url or DEFAULT_BASE_URLS[self.provider]

    @property
    def label(self) -> str:
        """How messages name this binding: the provider and the model, never a credential."""
        return f"the {self.provider} provider ({self.model})"


def parse_options(options: dict[str, Any]) -> UpstreamOptions:
    try:
        return UpstreamOptions.model_validate(options)
    except ValidationError as error:
        raise ValueError(invalid_options("upstream", error)) from None
