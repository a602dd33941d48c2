"""Request-scoped helpers: the runtime, the caller's key, the public base URL."""

from __future__ import annotations

from fastapi import Request

from reelserve.api import execution
from reelserve.api.body_gate import KEY_IN_SCOPE
from reelserve.api.envelope import COUNTED_RATE
from reelserve.errors import PermissionDenied
from reelserve.observe.context import bind
from reelserve.runtime import Runtime
from reelserve.service.keys import KeyInfo
from reelserve.service.ratelimits import RateState


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime


async def authenticated_key(request: Request) -> KeyInfo:
    """From the recent-keys cache; on a miss, from the database (api/execution.py says where that read runs)."""
    gated: KeyInfo | None = request.scope.get(KEY_IN_SCOPE)
    if gated is not None:
        return gated
    runtime = runtime_of(request)
    authorization = request.headers.get("authorization")
    known = runtime.keys.recognised(authorization)
    if known is None:
        known = await execution.read(runtime, runtime.keys.authenticate, authorization)
    bind(key_id=known.id)
    return known


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
    state = await runtime.rate_limiter.hit(key.id, key.limits.rpm or runtime.settings.default_rpm)
    request.scope[COUNTED_RATE] = state
    return state
