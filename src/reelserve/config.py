"""One Settings object for the whole server: environment variables REELSERVE_* and CLI options."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

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
        default=None, description="base URL clients reach this server at; taken from each request when unset"
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
    job_lease_seconds: float = 30.0
    job_max_attempts: int = 3
    worker_poll_seconds: float = 1.0
    max_body_bytes: int = 40 * 1024 * 1024

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'reelserve.db').resolve()}"
