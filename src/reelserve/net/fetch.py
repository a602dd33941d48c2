"""Fetching user-supplied URLs without letting them reach the server's own network (no SSRF).

Every hop (the first URL and each redirect) goes through `check_url`, and the connection for
it goes only to the addresses that check resolved and judged. The whole fetch, redirects
included, shares one deadline and one byte cap.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin

import httpcore
import httpx

from reelserve.errors import InputError
from reelserve.net.pinned_network import Deadline, PinnedBackend
from reelserve.net.url_check import FetchPolicy, ResolvedTarget, Resolver, check_url
from reelserve.sizes import format_bytes

__all__ = [
    "FetchPolicy", "FetchedContent", "FetchedFile", "ResolvedTarget", "Resolver", "check_url", "fetch_to_file",
    "fetch_url",
]

USER_AGENT = b"reelserve-fetch/1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK_FAILURES = (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol)


@dataclass(frozen=True)
class FetchedContent:
    """A fetched body; `final_url` is the URL it came from after redirects."""

    data: bytes
    content_type: str | None
    final_url: str


@dataclass(frozen=True)
class FetchedFile:
    """A body fetched into a file; `final_url` is the URL it came from after redirects."""

    path: Path
    size: int
    content_type: str | None
    final_url: str


def fetch_url(url: str, policy: FetchPolicy, *, param: str) -> FetchedContent:
    """GET `url` under `policy`; any refusal or failure raises InputError(param=param)."""
    return _fetch(url, policy, param, None)


def fetch_to_file(url: str, policy: FetchPolicy, destination: Path, *, param: str) -> FetchedFile:
    """GET `url` under `policy` straight into `destination` (large bodies never sit in memory); any refusal
    or failure raises InputError(param=param) and leaves no file behind."""
    try:
        with destination.open("wb") as sink:
            fetched = _fetch(url, policy, param, sink)
            size = sink.tell()
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    return FetchedFile(destination, size, fetched.content_type, fetched.final_url)


def _fetch(url: str, policy: FetchPolicy, param: str, sink: BinaryIO | None) -> FetchedContent:
    deadline = Deadline.after(policy.timeout_seconds)
    ssl_context = policy.ssl_context or default_ssl_context()
    current_url = url
    redirects_followed = 0
    while True:
        target = check_url(current_url, policy, param=param, deadline=deadline)
        outcome = _get(target, policy, deadline, ssl_context, param, sink)
        if isinstance(outcome, FetchedContent):
            return outcome
        if redirects_followed == policy.max_redirects:
            raise InputError(
                f"{param} URL redirected more than {policy.max_redirects} times; give the final URL",
                param,
            )
        redirects_followed += 1
        current_url = urljoin(target.url, outcome)


def _get(
    target: ResolvedTarget,
    policy: FetchPolicy,
    deadline: Deadline,
    ssl_context: ssl.SSLContext,
    param: str,
    sink: BinaryIO | None,
) -> FetchedContent | str:
    """One GET: the content (written to `sink` where there is one), or the Location of a redirect."""
    subject = f"{param} URL"
    url = httpcore.URL(
        scheme=target.scheme.encode(),
        host=target.host.encode(),
        port=target.port,
        target=target.target.encode(),
    )
    headers = [
        (b"Host", target.host_header.encode()),
        (b"User-Agent", USER_AGENT),
        (b"Accept", b"*/*"),
        (b"Accept-Encoding", b"identity"),
    ]
    left = deadline.remaining()
    extensions = {"timeout": {"connect": left, "read": left, "write": left, "pool": left}}
    backend = PinnedBackend(target.host, target.port, target.addresses, deadline)
    try:
        with (
            httpcore.ConnectionPool(
                ssl_context=ssl_context,
                network_backend=backend,
                max_keepalive_connections=0,
                retries=0,
            ) as pool,
            pool.stream("GET", url, headers=headers, extensions=extensions) as response,
        ):
            return _read_response(response, target, policy, subject, param, sink)
    except httpcore.TimeoutException:
        raise InputError(
            f"{subject} did not finish within {policy.timeout_seconds:g} seconds", param
        ) from None
    except httpcore.ConnectError as error:
        raise InputError(f"{subject} could not be reached: {_describe(error)}", param) from None
    except _CHUNK_FAILURES as error:
        raise InputError(f"{subject} broke off the transfer: {_describe(error)}", param) from None


def _read_response(
    response: httpcore.Response,
    target: ResolvedTarget,
    policy: FetchPolicy,
    subject: str,
    param: str,
    sink: BinaryIO | None,
) -> FetchedContent | str:
    status = response.status
    if status in REDIRECT_STATUSES:
        location = _header(response, b"location", encoding="utf-8")
        if not location:
            raise InputError(f"{subject} answered HTTP {status} without a Location to follow", param)
        return location
    if status >= 300:
        raise InputError(f"{subject} answered HTTP {status}", param)
    encoding = _header(response, b"content-encoding")
    if encoding and encoding.lower() != "identity":
        raise InputError(
            f"{subject} sent {encoding!r}-encoded content, which this server does not accept", param
        )

    too_large = f"{subject} content is larger than the limit of {format_bytes(policy.max_bytes)}"
    declared_length = _header(response, b"content-length")
    if declared_length and declared_length.isdigit() and int(declared_length) > policy.max_bytes:
        raise InputError(f"{too_large} (it declares {format_bytes(int(declared_length))})", param)
    body = bytearray()
    received = 0
    for chunk in response.iter_stream():
        received += len(chunk)
        if received > policy.max_bytes:
            raise InputError(too_large, param)
        if sink is not None:
            sink.write(chunk)
        else:
            body += chunk
    return FetchedContent(bytes(body), _header(response, b"content-type"), target.url)


@cache
def default_ssl_context() -> ssl.SSLContext:
    """Certificate checks against certifi's CA bundle, as httpx does; loaded once and shared."""
    return httpx.create_ssl_context()


def _header(response: httpcore.Response, name: bytes, encoding: str = "latin-1") -> str | None:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode(encoding, errors="replace").strip()
    return None


def _describe(error: Exception) -> str:
    return str(error) or type(error).__name__
