"""POSTing to a URL a client gave (a webhook), under the same SSRF rules as fetching: the host is resolved and
judged, the connection goes only to the judged address, redirects are never followed."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import httpcore

from reelserve.errors import InputError
from reelserve.net.fetch import USER_AGENT, default_ssl_context
from reelserve.net.pinned_network import Deadline, PinnedBackend
from reelserve.net.url_check import FetchPolicy, check_url

RESPONSE_BYTES_READ = 64 * 1024
"""Of a receiver's answer only this much is read (and thrown away): its status is what counts."""


@dataclass(frozen=True)
class PostOutcome:
    status_code: int | None
    """The receiver's HTTP status, or None where no answer came."""
    error: str | None = None
    """Why no answer came (refused address, timeout, connection error)."""
    refused: bool = False
    """The URL may not be reached (a private address, a bad port): trying again will not help."""


def post(url: str, body: bytes, headers: dict[str, str], policy: FetchPolicy, timeout_seconds: float) -> PostOutcome:
    deadline = Deadline.after(timeout_seconds)
    try:
        target = check_url(url, policy, param="webhook", deadline=deadline)
    except InputError as refused:
        return PostOutcome(None, refused.message, refused=True)
    request_headers = [
        (b"Host", target.host_header.encode()),
        (b"User-Agent", USER_AGENT),
        (b"Content-Type", b"application/json"),
        (b"Content-Length", str(len(body)).encode()),
        *((name.encode(), value.encode()) for name, value in headers.items()),
    ]
    left = deadline.remaining()
    extensions = {"timeout": {"connect": left, "read": left, "write": left, "pool": left}}
    ssl_context: ssl.SSLContext = policy.ssl_context or default_ssl_context()
    endpoint = httpcore.URL(
        scheme=target.scheme.encode(), host=target.host.encode(), port=target.port, target=target.target.encode()
    )
    try:
        with (
            httpcore.ConnectionPool(
                ssl_context=ssl_context,
                network_backend=PinnedBackend(target.host, target.port, target.addresses, deadline),
                max_keepalive_connections=0,
                retries=0,
            ) as pool,
            pool.stream("POST", endpoint, headers=request_headers, content=body, extensions=extensions) as answer,
        ):
            read = 0
            for chunk in answer.iter_stream():
                read += len(chunk)
                if read >= RESPONSE_BYTES_READ:
                    break
            return PostOutcome(answer.status)
    except httpcore.TimeoutException:
        return PostOutcome(None, f"no answer within {timeout_seconds:g} s")
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as error:
        return PostOutcome(None, f"connection failed: {str(error) or type(error).__name__}")
