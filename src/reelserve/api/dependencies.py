"""Request-scoped helpers: the runtime, the caller's key, the public base URL."""

from __future__ import annotations

from fastapi import Request

from reelserve.runtime import Runtime
from reelserve.service.keys import KeyInfo


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime


def authenticated_key(request: Request) -> KeyInfo:
    return runtime_of(request).keys.authenticate(request.headers.get("authorization"))


def public_base_url(request: Request) -> str:
    configured = runtime_of(request).settings.public_url
    return configured if configured else str(request.base_url)
