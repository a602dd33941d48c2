"""The store a process keeps its files in, from REELSERVE_STORAGE_URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from reelserve.config import Settings
from reelserve.storage.base import Storage
from reelserve.storage.local import LocalStorage
from reelserve.storage.s3 import S3Storage


class StorageConfigError(ValueError):
    pass


def open_storage(settings: Settings) -> Storage:
    """file:///path (or no URL: the data directory's `files`), or s3://bucket/prefix (REELSERVE_S3_ENDPOINT_URL,
    REELSERVE_S3_REGION, credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY). Scratch space of an object
    store lies in the data directory."""
    url = settings.storage_url
    if not url:
        return LocalStorage(settings.data_dir / "files")
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise StorageConfigError(f"REELSERVE_STORAGE_URL: a file URL is file:///absolute/path, not {url!r}")
        return LocalStorage(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise StorageConfigError(f"REELSERVE_STORAGE_URL: an S3 URL is s3://bucket/prefix, not {url!r}")
        return S3Storage(url, settings.data_dir / "scratch", settings.s3_endpoint_url, settings.s3_region)
    raise StorageConfigError(f"REELSERVE_STORAGE_URL: {url!r} is neither a file:// nor an s3:// URL")
