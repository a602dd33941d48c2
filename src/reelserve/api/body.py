"""Reading request bodies with a size cap, answering malformed input with InputError."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from reelserve.errors import InputError


async def read_capped_body(request: Request, max_bytes: int, too_large: str) -> bytes:
    """The body, refused as soon as its Content-Length or the bytes streamed so far pass `max_bytes`."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise InputError(too_large)
    chunks = bytearray()
    async for chunk in request.stream():
        chunks.extend(chunk)
        if len(chunks) > max_bytes:
            raise InputError(too_large)
    return bytes(chunks)


async def read_json_body(request: Request, max_bytes: int) -> Any:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise InputError(f"Content-Type must be application/json (got {media_type})")
    chunks = await read_capped_body(request, max_bytes, f"request body exceeds the limit of {max_bytes} bytes")
    if not chunks.strip():
        raise InputError("the request body is empty; send a JSON object")
    try:
        return json.loads(chunks)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"the request body is not valid JSON: {exc}") from None
