"""In front of every route: no body is read before its key is known, and no body is larger than its route needs.

A request that may carry a body (POST, PUT, PATCH, DELETE) must bring a valid API key, or it is answered 401
before a byte of its body is read; the key found is kept in the request's scope for the route. The one exception
is the upload PUT, whose URL carries its own signature. Every body is capped while it streams, by what its route
takes: media routes (generation, voice creation, uploads) up to the large caps, everything else (admin, pricing,
history, tickets) a small one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelserve.api import execution
from reelserve.api.envelope import ErrorRender, error_response, response_for
from reelserve.api.errors import ErrorShape, route_path, shape_of_path
from reelserve.errors import InputError, ReelserveError
from reelserve.observe.context import bind
from reelserve.service.keys import KeyInfo

KEY_IN_SCOPE = "reelserve.key"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SIGNED_UPLOAD_PUT = re.compile(r"/api/v3/media/uploads/[^/]+")
UPLOAD_BINARY = "/api/v3/media/upload/binary"
MULTIPART_SLACK = 1024 * 1024
MEDIA_PATHS = frozenset({
    "/api/v3/kwaivgi/kling_custom_voice/create_voice", "/api/v3/videos", "/v1/videos",
    "/api/v3/model/pricing",  # its `inputs` are the request one would send, inline images and all
})
"""Routes besides the catalog's generation routes whose JSON or multipart bodies carry media."""


class BodyTooLarge(InputError):
    pass


class BodyGate:
    def __init__(
        self, app: ASGIApp, media_bytes: int, upload_bytes: int, small_bytes: int,
        shapes: Sequence[ErrorShape] = (),
    ) -> None:
        self.app = app
        self.shapes = shapes
        """Each wire dialect's error shape, on the paths it owns."""
        self.media_bytes = media_bytes
        self.upload_bytes = upload_bytes
        self.small_bytes = small_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if not (scope["method"] == "PUT" and SIGNED_UPLOAD_PUT.fullmatch(path)):
            try:
                scope[KEY_IN_SCOPE] = await _key_of(scope)
            except ReelserveError as refused:
                await response_for(refused, scope, self._render(path))(scope, receive, send)
                return
        cap = self._cap(scope, path)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > cap:
            too_large = self._render(path)(400, "invalid_request_error", _too_large(cap), None, None, None)
            await too_large(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(_too_large(cap))
            return message

        await self.app(scope, counted, send)

    def _render(self, path: str) -> ErrorRender:
        shape = shape_of_path(self.shapes, path)
        return shape.render if shape is not None else error_response

    def _cap(self, scope: Scope, path: str) -> int:
        if path == UPLOAD_BINARY or SIGNED_UPLOAD_PUT.fullmatch(path):
            return self.upload_bytes + MULTIPART_SLACK
        if path in MEDIA_PATHS or scope["app"].state.runtime.engines.route_at(path) is not None:
            return self.media_bytes
        return self.small_bytes


async def _key_of(scope: Scope) -> KeyInfo:
    runtime = scope["app"].state.runtime
    headers = scope["headers"]
    authorization = next((value.decode("latin-1") for name, value in headers if name == b"authorization"), None)
    known = runtime.keys.recognised(authorization)
    if known is None:
        known = await execution.read(runtime, runtime.keys.authenticate, authorization)
    bind(key_id=known.id)
    return known


def _too_large(cap: int) -> str:
    return f"the request body exceeds this route's limit of {cap} bytes"
