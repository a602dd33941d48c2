"""The two commonest requests, polling and submitting, answered in front of FastAPI's routing when the
caller's key is known.

FastAPI's routing, dependency solving and request wrapping cost about as much as a poll's whole answer.
For a key in the recent-keys cache this middleware answers `GET /api/v3/predictions/{id}[/result]` and
`POST` to a generation route with the very response the routes in predictions.py give (it calls the same
code); every other request, and one whose key must first be looked up, goes on to the app. It sits inside
the app's outer middleware, so a body too large and an unexpected error are answered as anywhere else.
"""

from __future__ import annotations

import re

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from reelserve.api.body_gate import KEY_IN_SCOPE
from reelserve.api.dependencies import runtime_of
from reelserve.api.envelope import response_for
from reelserve.api.errors import route_path
from reelserve.api.observer import ROUTE_TEMPLATE
from reelserve.api.predictions import result_response, submit_response
from reelserve.errors import ReelserveError
from reelserve.observe.context import bind

POLL_PATH = re.compile(r"/api/v3/predictions/([^/]+)(?:/result)?")
POLL_TEMPLATE = "/api/v3/predictions/{prediction_id}"
POLL_RESULT_TEMPLATE = POLL_TEMPLATE + "/result"


class KnownKeyFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "POST"):
            path = route_path(scope)
            poll = POLL_PATH.fullmatch(path) if scope["method"] == "GET" else None
            route = scope["app"].state.runtime.engines.route_at(path) if scope["method"] == "POST" else None
            if poll is not None or route is not None:
                request = Request(scope, receive)
                key = scope.get(KEY_IN_SCOPE)  # a POST's, found by the body gate
                if key is None:
                    key = runtime_of(request).keys.recognised(request.headers.get("authorization"))
                if key is not None:
                    scope[ROUTE_TEMPLATE] = route.path if route is not None else _poll_template(path)
                    bind(key_id=key.id)
                    try:
                        if route is not None:
                            response = await submit_response(request, route, key)
                        else:
                            response = await result_response(request, poll[1], key)  # type: ignore[index]
                    except ReelserveError as exc:
                        response = response_for(exc, scope)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _poll_template(path: str) -> str:
    return POLL_RESULT_TEMPLATE if path.endswith("/result") else POLL_TEMPLATE
