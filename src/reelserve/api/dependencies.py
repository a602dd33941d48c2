"""Request-scoped helpers: the runtime, the caller's key, the public base URL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from reelserve.errors import PermissionDenied
from reelserve.runtime import Runtime
from reelserve.service.keys import KeyInfo
from reelserve.service.ratelimits import RateState

T = TypeVar("T")


async def call_reading(instant: bool, read: Callable[..., T], *args: Any) -> T:
    """A database read: on the event loop where reads are instant (SQLite), else in the threadpool."""
    if instant:
        return read(*args)
    return await run_in_threadpool(read, *args)


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime


async def authenticated_key(request: Request) -> KeyInfo:
    """From the recent-keys cache on the event loop; on a miss from the database, on the loop where its
    reads are instant (SQLite: a loop busy with work would starve the threadpool of the GIL), else in the
    threadpool."""
    keys = runtime_of(request).keys
    authorization = request.headers.get("authorization")
    known = keys.recognised(authorization)
    if known is not None:
        return known
    return await call_reading(keys.reads_are_instant, keys.authenticate, authorization)


def public_base_url(request: Request) -> str:
    configured = runtime_of(request).settings.public_url
    if configured:
        return configured
    scope = request.scope
    seen = (scope["scheme"], request.headers.get("host"), scope.get("server"), scope.get("root_path", ""))
    known = _base_urls.get(seen)
    if known is None:
        known = str(request.base_url)
        if len(_base_urls) >= BASE_URLS_REMEMBERED:
            _base_urls.clear()
        _base_urls[seen] = known
    return known


# Building `request.base_url` costs more than the rest of a poll's answer; it depends only on these.
BASE_URLS_REMEMBERED = 256
_base_urls: dict[tuple[object, ...], str] = {}


async def admin_key(request: Request) -> KeyInfo:
    key = await authenticated_key(request)
    if not key.is_admin:
        raise PermissionDenied("this endpoint needs an API key with the admin role")
    return key


async def count_request(request: Request, key: KeyInfo) -> RateState:
    """Counts a request that creates work against the key's requests-per-minute limit."""
    runtime = runtime_of(request)
    return await runtime.rate_limiter.hit(key.id, key.limits.rpm or runtime.settings.default_rpm)
