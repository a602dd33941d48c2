"""Signed, expiring URLs for stored files: `/files/<key>?expires=<unix>&signature=<hmac>`."""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from urllib.parse import quote

URL_PREFIX = "/files/"
EXPIRY_GRANULARITY_SECONDS = 3600
MAX_EXPIRES_DIGITS = 12


class UrlSigner:
    def __init__(self, secret: bytes, ttl_seconds: int) -> None:
        self._secret = secret
        self.ttl_seconds = ttl_seconds

    def signed_path(self, key: str, now: float | None = None) -> str:
        # Expiry is rounded up to the hour so that repeated polls of one result give one URL.
        now = time.time() if now is None else now
        expires = math.ceil((now + self.ttl_seconds) / EXPIRY_GRANULARITY_SECONDS) * EXPIRY_GRANULARITY_SECONDS
        return f"{URL_PREFIX}{quote(key)}?expires={expires}&signature={self._signature(key, expires)}"

    def url_for(self, key: str, base_url: str) -> str:
        """An absolute link to the stored file, for answers."""
        return base_url.rstrip("/") + self.signed_path(key)

    def signed_path_until(self, key: str, expires: int, prefix: str = URL_PREFIX) -> str:
        return f"{prefix}{quote(key)}?expires={expires}&signature={self._signature(key, expires)}"

    def verify(self, key: str, expires: str, signature: str, now: float | None = None) -> str | None:
        """None when valid; otherwise why not."""
        # Only what signed_path writes: a Unix time in ASCII digits, a hex digest. int() alone would also take
        # other scripts' digits, signs, spaces and underscores, and compare_digest refuses non-ASCII text.
        if not (0 < len(expires) <= MAX_EXPIRES_DIGITS and expires.isascii() and expires.isdigit()):
            return "the link is malformed"
        expires_at = int(expires)
        expected = self._signature(key, expires_at)
        if not (signature.isascii() and hmac.compare_digest(expected.encode(), signature.encode())):
            return "the link's signature does not match"
        if expires_at < (time.time() if now is None else now):
            return "the link has expired"
        return None

    def _signature(self, key: str, expires: int) -> str:
        message = f"{key}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
