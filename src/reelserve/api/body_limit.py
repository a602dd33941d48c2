"""A cap on every request body, enforced while it streams in, whatever the route does with it."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelserve.api.envelope import error_response
from reelserve.errors import InputError


class BodyTooLarge(InputError):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = error_response(400, "invalid_request_error", self._message())
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self._message())
            return message

        await self.app(scope, counted, send)

    def _message(self) -> str:
        return f"the request body exceeds this server's limit of {self.max_bytes} bytes"
