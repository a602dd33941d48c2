"""What the API answers, as typed objects: a prediction, an upload, a page of history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "timeout"})


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 / ISO 8601 time, or None where there is none or it cannot be read."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class Prediction:
    """A prediction as the server last described it. Fields a server leaves out are None (or empty);
    `raw` keeps the whole `data` object, extra fields included."""

    id: str
    model: str | None
    status: str
    outputs: list[str] = field(default_factory=list)
    error: str | None = None
    progress: int | None = None
    queue_position: int | None = None
    estimated_start_at: datetime | None = None
    created_at: datetime | None = None
    get_url: str | None = None
    execution_time_ms: float | None = None
    inference_ms: float | None = None
    has_nsfw_contents: list[bool] = field(default_factory=list)
    input: dict[str, Any] = field(default_factory=dict)
    price: float | None = None
    posters: list[str] = field(default_factory=list)
    outputs_expired_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Prediction:
        urls = data.get("urls") if isinstance(data.get("urls"), dict) else {}
        timings = data.get("timings") if isinstance(data.get("timings"), dict) else {}
        return cls(
            id=str(data["id"]),
            model=data.get("model"),
            status=str(data.get("status") or "created"),
            outputs=list(data.get("outputs") or []),
            error=data.get("error") or None,
            progress=data.get("progress"),
            queue_position=data.get("queue_position"),
            estimated_start_at=parse_time(data.get("estimated_start_at")),
            created_at=parse_time(data.get("created_at")),
            get_url=urls.get("get"),
            execution_time_ms=data.get("executionTime"),
            inference_ms=timings.get("inference"),
            has_nsfw_contents=list(data.get("has_nsfw_contents") or []),
            input=dict(data.get("input") or {}),
            price=data.get("price"),
            posters=list(data.get("posters") or []),
            outputs_expired_at=parse_time(data.get("outputs_expired_at")),
            raw=dict(data),
        )

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "completed"

    def moment(self) -> tuple[str, int | None, int | None]:
        """What a progress display shows; a change in it is worth telling."""
        return self.status, self.progress, self.queue_position


@dataclass(frozen=True)
class Upload:
    download_url: str
    filename: str | None
    size: int | None
    type: str | None
    content_type: str | None = None
    id: str | None = None
    expires_at: datetime | None = None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Upload:
        return cls(
            download_url=str(data["download_url"]),
            filename=data.get("filename"),
            size=data.get("size"),
            type=data.get("type"),
            content_type=data.get("content_type"),
            id=data.get("id"),
            expires_at=parse_time(data.get("expires_at")),
        )


@dataclass(frozen=True)
class PredictionPage:
    """One page of the caller's history, newest first."""

    page: int
    page_size: int
    total: int
    items: list[Prediction]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> PredictionPage:
        return cls(
            page=int(data.get("page") or 1),
            page_size=int(data.get("page_size") or 0),
            total=int(data.get("total") or 0),
            items=[Prediction.from_data(item) for item in data.get("items") or []],
        )
