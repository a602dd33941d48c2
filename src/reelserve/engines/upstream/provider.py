"""What every provider adapter (v3, kling, fal, replicate) does for the upstream engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from reelserve.engines.base import GenerationRequest
from reelserve.engines.upstream.calls import ProviderCalls
from reelserve.engines.upstream.inputs import JobInput


@dataclass
class ProviderJob:
    id: str
    poll_url: str
    cancel_url: str | None = None
    result_url: str | None = None
    initial: JobState | None = None
    """The job's state where the submit answer already carried it (Replicate's Prefer: wait)."""


@dataclass
class JobState:
    finished: bool
    output_urls: list[str] = field(default_factory=list)
    error: str | None = None
    """Why the job failed; None when it succeeded or is still running."""
    refused: bool = False
    """The provider refused the content (its content policy); `error` says what it said."""
    progress: float | None = None
    """0..1 where the provider reports progress."""
    has_nsfw_contents: bool = False
    cost: float | None = None
    cost_unit: str | None = None
    timings_ms: Mapping[str, int] = field(default_factory=dict)


class ProviderAdapter(Protocol):
    name: str
    supports_cancel: bool
    renames: Mapping[str, str]
    """reelserve's parameter names -> the provider's, before the binding's own `input.rename`."""

    def headers(self) -> Mapping[str, str]:
        """The authorization headers of the next call (the credential stays inside the adapter)."""

    def retryable(self, answer: Any) -> bool:
        """Whether an answer means "too many requests, try again later"."""

    def build_input(self, request: GenerationRequest, job_input: JobInput, calls: ProviderCalls) -> dict[str, Any]:
        """The provider's input for the job: its parameters and its images as the provider takes them."""

    def submit(self, calls: ProviderCalls, body: dict[str, Any], request: GenerationRequest) -> ProviderJob: ...

    def poll(self, calls: ProviderCalls, job: ProviderJob) -> JobState: ...

    def cancel(self, calls: ProviderCalls, job: ProviderJob) -> bool:
        """Forward a cancel; whether the provider took it."""


def as_int_ms(seconds: Any) -> int | None:
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
        return int(seconds * 1000)
    return None


def first_text(*values: Any) -> str:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""
