"""Reading request bodies with a size cap, answering malformed input with InputError."""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from reelserve.api import execution
from reelserve.api.schemas import inline_schema
from reelserve.catalog.routes import input_error_from
from reelserve.errors import ClientGone, InputError, echoed

# No request of this API nests deeper than a few levels; a limit far above that keeps every later step
# (validation, error messages, storing the parameters as JSON) clear of Python's recursion limit.
MAX_JSON_DEPTH = 32
# json.loads turns an escaped half of a surrogate pair (`"\ud800"`) into a string that is not Unicode text and
# that no encoder (orjson, SQLite, PostgreSQL) takes; bodies with an escape that may be one (`\ud...`) are
# checked string by string (most bodies hold no backslash at all, which is the quickest thing to look for).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD]")

M = TypeVar("M", bound=BaseModel)


async def read_capped_body(request: Request, max_bytes: int, too_large: str) -> bytes:
    """The body, refused as soon as its Content-Length or the bytes streamed so far pass `max_bytes`."""
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise InputError(too_large)
    chunks = bytearray()
    try:
        async for chunk in request.stream():
            chunks.extend(chunk)
            if len(chunks) > max_bytes:
                raise InputError(too_large)
    except ClientDisconnect:
        raise ClientGone("the client went away before sending the whole body") from None
    return bytes(chunks)


async def read_json_body(request: Request, max_bytes: int) -> Any:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise InputError(f"Content-Type must be application/json (got {echoed(media_type, 100)})")
    chunks = await read_capped_body(request, max_bytes, f"request body exceeds the limit of {max_bytes} bytes")
    if not chunks.strip():
        raise InputError("the request body is empty; send a JSON object")
    return await execution.parse_json_body(parse_json, chunks)


def parse_json(data: bytes) -> Any:
    """JSON as the standard library reads it, refusing with InputError what it cannot represent safely: numbers
    past the interpreter's digit limit, nesting past MAX_JSON_DEPTH, NaN and Infinity, invalid UTF-8."""
    try:
        # UTF-8 strictly (RFC 8259), a leading BOM tolerated: json.loads would also take UTF-16 and UTF-32,
        # and decodes with surrogatepass.
        text = data.decode("utf-8-sig")
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise _too_deep() from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"the request body is not valid JSON: {exc}") from None
    except ValueError:
        # int() refuses numbers of more digits than sys.get_int_max_str_digits() (4300 by default).
        raise InputError(
            f"the request body holds a number of more than {sys.get_int_max_str_digits()} digits"
        ) from None
    if _depth_exceeds(value, MAX_JSON_DEPTH):
        raise _too_deep()
    if "\\" in text and _SURROGATE_ESCAPE.search(text) and _holds_lone_surrogate(value):
        raise InputError("the request body holds an escaped lone surrogate (\\ud800-\\udfff), which is not text")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InputError(f"the request body holds a number too large to read: {echoed(text, 100)}")
    return value


def _refuse_constant(name: str) -> Any:
    raise InputError(f"the request body is not valid JSON: {name} is not a JSON number")


def _too_deep() -> InputError:
    return InputError(f"the request body nests deeper than {MAX_JSON_DEPTH} levels")


def _depth_exceeds(value: Any, limit: int) -> bool:
    level = [value]
    for _ in range(limit):
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return any(isinstance(item, dict | list) for item in level)


def _holds_lone_surrogate(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


async def read_model_body(request: Request, model: type[M], max_bytes: int) -> M:
    """A JSON body validated into `model`, for routes that authenticate before they read their body."""
    body = await read_json_body(request, max_bytes)
    if not isinstance(body, dict):
        raise InputError("the request body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise input_error_from(exc) from None


def json_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI requestBody of a route that reads its body itself (see read_model_body)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline_schema(model)}}}}
