"""Polling, the commonest request, answered in front of FastAPI's routing when the caller's key is known.

Clients poll each job every second or so, and FastAPI's routing and dependency solving cost more than the
answer itself. For a key in the recent-keys cache this middleware answers `GET /api/v3/predictions/{id}`
and `.../result` with the very response the routes in predictions.py give (it calls the same code);
every other request, and a poll whose key must first be looked up, goes on to the app.
"""

from __future__ import annotations

import re

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from reelserve.api.dependencies import runtime_of
from reelserve.api.envelope import response_for
from reelserve.api.predictions import result_response
from reelserve.errors import ReelserveError

POLL_PATH = re.compile(r"/api/v3/predictions/([^/]+)(?:/result)?")


class PollingFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            match = POLL_PATH.fullmatch(_route_path(scope))
            if match is not None:
                request = Request(scope, receive)
                key = runtime_of(request).keys.recognised(request.headers.get("authorization"))
                if key is not None:
                    try:
                        response = await result_response(request, match[1], key)
                    except ReelserveError as exc:
                        response = response_for(exc)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    return path[len(root_path):] if root_path and path.startswith(root_path) else path
