"""One Settings object for the whole server: environment variables REELSERVE_* and CLI options."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REELSERVE_", extra="ignore")

    data_dir: Path = Path("./reelserve-data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; SQLite in the data directory when unset"
    )
    config: Path | None = Field(default=None, description="reelserve.toml with route bindings")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default=1, ge=0, description="in-process workers; 0 runs the API alone")
    public_url: str | None = Field(
        default=None,
        description="base URL clients reach this server at; taken from each request's Host header when unset",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="reverse proxies (addresses, networks) whose X-Forwarded-Proto/-For are believed; none by default",
    )
    secret_key: str | None = Field(default=None, description="signs file URLs; generated in data_dir when unset")

    allow_private_urls: bool = False
    allowed_url_networks: list[str] = Field(default_factory=list)
    allowed_url_hosts: list[str] = Field(default_factory=list)
    fetch_timeout_seconds: float = 20.0
    fetch_max_bytes: int = 20 * 1024 * 1024

    default_rpm: int = Field(default=60, ge=1, description="generation requests per minute per key")
    default_max_concurrency: int = Field(default=4, ge=1, description="jobs in flight at once per key")
    rate_limit_storage: str | None = Field(
        default=None, description="`limits` storage URI shared by API processes, e.g. redis://127.0.0.1:6379"
    )
    key_cache_seconds: float = Field(
        default=5.0, ge=0, description="how long a recognised key is remembered; revocations elsewhere take this long"
    )
    first_key_balance_usd: Decimal = Field(
        default=Decimal("100"), ge=0, description="opening balance of the admin key made on first start"
    )

    upload_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60, description="uploads expire and are removed")
    maintenance_interval_seconds: float = 300.0

    content_policy_file: Path | None = Field(
        default=None, description="terms and patterns added to the built-in content policy (TOML or one per line)"
    )
    nsfw_classifier_dir: Path | None = Field(
        default=None, description="a Hugging Face image-classification model on local disk"
    )
    nsfw_labels: list[str] = Field(default_factory=lambda: ["nsfw", "porn", "hentai", "sexy"])
    nsfw_threshold: float = Field(default=0.8, ge=0, le=1)
    block_unsafe_inputs: bool = True
    block_unsafe_outputs: bool = False

    sync_timeout_seconds: float = 300.0
    output_url_ttl_seconds: int = 7 * 24 * 3600
    output_retention_seconds: int = Field(
        default=7 * 24 * 3600, ge=60,
        description="a job's inputs, outputs and posters are removed this long after it ends",
    )
    queue_backend: Literal["auto", "embedded", "procrastinate"] = Field(
        default="auto",
        description="how jobs reach workers: auto is procrastinate on PostgreSQL and the embedded queue on SQLite",
    )
    storage_url: str | None = Field(
        default=None, description="file:///path or s3://bucket/prefix; files under the data directory when unset"
    )
    s3_endpoint_url: str | None = Field(default=None, description="an S3-compatible server; AWS S3 when unset")
    s3_region: str | None = Field(default=None, description="the bucket's region")
    serve_files_via_api: bool = Field(
        default=False,
        description="output links are reelserve's own signed /files/ links rather than the store's presigned URLs",
    )
    worker_heartbeat_seconds: float = Field(
        default=5.0, gt=0, description="how often a worker reports itself in the workers table (GET /admin/workers)"
    )
    job_lease_seconds: float = 30.0
    job_max_attempts: int = 3
    job_overdue_grace_seconds: float = Field(
        default=60.0, ge=0, description="a job past its max_run_seconds by this much is ended timeout by maintenance"
    )
    worker_poll_seconds: float = 1.0
    max_body_bytes: int = 40 * 1024 * 1024
    max_small_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="cap on the bodies of routes that take no media (admin, pricing, ...)"
    )

    fetch_threads: int = Field(default=16, ge=1, description="threads that fetch image URLs and check webhook hosts")
    fetches_per_key: int = Field(default=4, ge=1, description="submits with URLs to fetch in progress at once per key")
    webhook_concurrency: int = Field(default=8, ge=1, description="webhook deliveries in progress at once per process")
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, description="how long a receiver may take to answer")
    webhook_retry_scale: float = Field(
        default=1.0, gt=0, description="multiplies the retry schedule (tests shorten it)"
    )

    header_timeout_seconds: float = Field(
        default=20.0, gt=0, description="a request's headers must arrive within this time of its first byte"
    )
    max_header_bytes: int = Field(default=64 * 1024, ge=1024, description="cap on a request's headers")
    body_timeout_seconds: float = Field(
        default=20.0, gt=0, description="longest pause within a request body, and the grace before its rate counts"
    )
    body_min_bytes_per_second: float = Field(
        default=500.0, gt=0, description="slowest average rate at which a request body may arrive"
    )
    keep_alive_timeout_seconds: float = Field(
        default=5.0, gt=0, description="an idle keep-alive connection is closed after this time"
    )
    shutdown_timeout_seconds: float = Field(
        default=10.0, ge=0, description="at shutdown, how long requests in progress may finish before being cancelled"
    )

    metrics_token: str | None = Field(
        default=None, description="bearer token that GET /metrics answers to; /metrics answers 404 when unset"
    )
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="also serve /metrics on this port of metrics_host, without a token"
    )
    metrics_host: str = Field(default="127.0.0.1", description="the address the metrics port is bound to")
    log_format: Literal["text", "json"] = Field(
        default="text", description="text for a terminal, json for one JSON object per line"
    )
    access_log: str = Field(
        default="on", pattern=r"^(on|off|sample:(0(\.\d+)?|1(\.0+)?))$",
        description="on, off, or sample:R to log a fraction R of requests (and every 5xx)",
    )
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP traces endpoint (needs reelserve[otel]); no tracing when unset"
    )
    readiness_timeout_seconds: float = Field(
        default=5.0, gt=0, description="how long each /readyz check may take before it counts as failed"
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'reelserve.db').resolve()}"
