"""Calls to a hosted provider's API: a base URL the operator configured (trusted, so not SSRF-checked),
JSON in and out, a timeout on every call, no redirects, no proxies from the environment.

A credential travels only in the headers a caller passes, and only to the configured origin: a URL the
provider hands back (a status or cancel URL) is followed only when it has the base URL's scheme, host and
port. Errors name the method, the URL and the status, never a header.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 16 * 1024 * 1024
USER_AGENT = "reelserve-upstream/1"


class ProviderUnreachable(Exception):
    """The provider could not be reached or did not answer in time; the message names which."""


class ForeignOrigin(Exception):
    """The provider pointed at a URL of another origin, where its credential must not go."""


@dataclass(frozen=True)
class ProviderAnswer:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    data: Any = field(default=None)
    """The body parsed as JSON, or None where it is not JSON."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self, limit: int = 300) -> str:
        text = self.body[:limit].decode("utf-8", errors="replace").strip()
        return text + ("…" if len(self.body) > limit else "")


class ProviderHttp:
    """One provider's API at `base_url`."""

    def __init__(self, base_url: str, timeout_seconds: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url {base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/") + "/"
        self._origin = _origin(self.base_url)
        self.timeout_seconds = timeout_seconds
        self._client = httpx.Client(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout_seconds),
            headers={"User-Agent": USER_AGENT},
        )

    def url_for(self, path_or_url: str) -> str:
        """An absolute URL on the provider's origin; ForeignOrigin for one elsewhere."""
        url = urljoin(self.base_url, path_or_url.lstrip("/")) if "://" not in path_or_url else path_or_url
        if _origin(url) != self._origin:
            raise ForeignOrigin(f"{_without_query(url)} is not on the provider's origin {self._origin}")
        return url

    def same_origin(self, url: str) -> bool:
        return "://" in url and _origin(url) == self._origin

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        params: Mapping[str, str] | None = None,
        timeout_seconds: float | None = None,
    ) -> ProviderAnswer:
        url = self.url_for(path_or_url)
        shown = f"{method} {_without_query(url)}"
        timeout = httpx.Timeout(timeout_seconds) if timeout_seconds is not None else None
        try:
            with self._client.stream(
                method, url, headers=dict(headers or {}), json=json_body, files=files, params=params,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            ) as response:
                body = _read_capped(response, shown)
        except httpx.TimeoutException:
            raise ProviderUnreachable(
                f"{shown} did not answer within {timeout_seconds or self.timeout_seconds:g} s"
            ) from None
        except httpx.TransportError as exc:
            raise ProviderUnreachable(f"{shown} could not be reached ({type(exc).__name__})") from None
        log.debug("%s answered HTTP %s (%d bytes)", shown, response.status_code, len(body))
        return ProviderAnswer(
            status=response.status_code,
            headers={key.lower(): value for key, value in response.headers.items()},
            body=body,
            url=url,
            data=_json_or_none(body),
        )

    def close(self) -> None:
        self._client.close()


def _read_capped(response: httpx.Response, shown: str) -> bytes:
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise ProviderUnreachable(f"{shown} sent an answer larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MiB")
    return bytes(body)


def _json_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]
