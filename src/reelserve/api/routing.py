"""The route class of every router: JSON bodies that FastAPI parses itself go through api/body.parse_json, so
they meet the same refusals (numbers past the digit limit, deep nesting, NaN, invalid UTF-8, lone surrogates)
as the bodies the routes read themselves, with the same messages, and large ones parse in a thread as theirs
do. FastAPI's documented way to change how a request's body is read:
https://fastapi.tiangolo.com/how-to/custom-request-and-route/
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from reelserve.api import execution
from reelserve.api.body import parse_json
from reelserve.errors import InputError


class CheckedJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = await execution.parse_json_body(parse_json, await self.body())
            except InputError as exc:
                # FastAPI answers any other error while reading a body with a message of its own.
                raise HTTPException(status_code=400, detail=exc.message) from None
        return self._json


class CheckedJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(CheckedJsonRequest(request.scope, request.receive))

        return handle
