"""Signed, expiring URLs for stored files: `/files/<key>?expires=<unix>&signature=<hmac>`."""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from urllib.parse import quote

URL_PREFIX = "/files/"
EXPIRY_GRANULARITY_SECONDS = 3600


class UrlSigner:
    def __init__(self, secret: bytes, ttl_seconds: int) -> None:
        self._secret = secret
        self.ttl_seconds = ttl_seconds

    def signed_path(self, key: str, now: float | None = None) -> str:
        # Expiry is rounded up to the hour so that repeated polls of one result give one URL.
        now = time.time() if now is None else now
        expires = math.ceil((now + self.ttl_seconds) / EXPIRY_GRANULARITY_SECONDS) * EXPIRY_GRANULARITY_SECONDS
        return f"{URL_PREFIX}{quote(key)}?expires={expires}&signature={self._signature(key, expires)}"

    def signed_path_until(self, key: str, expires: int, prefix: str = URL_PREFIX) -> str:
        return f"{prefix}{quote(key)}?expires={expires}&signature={self._signature(key, expires)}"

    def verify(self, key: str, expires: str, signature: str, now: float | None = None) -> str | None:
        """None when valid; otherwise why not."""
        try:
            expires_at = int(expires)
        except ValueError:
            return "the link is malformed"
        if not hmac.compare_digest(self._signature(key, expires_at), signature):
            return "the link's signature does not match"
        if expires_at < (time.time() if now is None else now):
            return "the link has expired"
        return None

    def _signature(self, key: str, expires: int) -> str:
        message = f"{key}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
