"""Files going up (what to call them, what type they are) and coming down (where an output is)."""

from __future__ import annotations

import base64
import mimetypes
import os
from collections.abc import Callable
from pathlib import Path

from reelserve.client.errors import InvalidRequest
from reelserve.client.types import Prediction

BytesCallback = Callable[[int, int | None], object]
"""Told (bytes done, total bytes or None) as a download goes."""

# Enough to name the types an upload endpoint accepts when only the bytes are given.
_SIGNATURES: tuple[tuple[int, bytes, str, str], ...] = (
    (0, b"\xff\xd8\xff", ".jpg", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", ".png", "image/png"),
    (8, b"WEBP", ".webp", "image/webp"),
    (8, b"WAVE", ".wav", "audio/wav"),
    (0, b"ID3", ".mp3", "audio/mpeg"),
    (4, b"ftypqt", ".mov", "video/quicktime"),
    (4, b"ftyp", ".mp4", "video/mp4"),
)


def upload_part(
    source: str | os.PathLike[str] | bytes, filename: str | None = None, content_type: str | None = None
) -> tuple[str, bytes, str]:
    """(filename, bytes, content type) of a path or of bytes, for a multipart `file` field."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        sniffed = _sniff(data)
        filename = filename or ("upload" + (sniffed[0] if sniffed else ""))
    else:
        path = Path(source)
        data = path.read_bytes()
        filename = filename or path.name
        sniffed = _sniff(data)
    if content_type is None:
        content_type = mimetypes.guess_type(filename)[0] or (sniffed[1] if sniffed else "application/octet-stream")
    return filename, data, content_type


def _sniff(data: bytes) -> tuple[str, str] | None:
    for offset, signature, suffix, media_type in _SIGNATURES:
        if data[offset:offset + len(signature)] == signature:
            return suffix, media_type
    return None


def output_of(source: Prediction | str, index: int = 0) -> str:
    """The URL (or inline base64 / data: URI) of a prediction's output, or `source` itself."""
    if isinstance(source, str):
        return source
    if not source.outputs:
        if source.outputs_expired_at is not None:
            raise InvalidRequest(f"the outputs of prediction {source.id} have expired and were removed")
        raise InvalidRequest(f"prediction {source.id} has no outputs (status {source.status})")
    if not -len(source.outputs) <= index < len(source.outputs):
        raise InvalidRequest(f"prediction {source.id} has {len(source.outputs)} output(s); no output {index}")
    return source.outputs[index]


def is_remote(output: str) -> bool:
    return output.startswith(("http://", "https://", "/"))


def inline_bytes(output: str) -> bytes:
    """The bytes of an output given inline (`enable_base64_output`): raw base64 or a data: URI."""
    payload = output.split(",", 1)[1] if output.startswith("data:") else output
    try:
        return base64.b64decode(payload, validate=True)
    except ValueError as exc:
        raise InvalidRequest(f"the output is neither a URL nor base64: {exc}") from None


def partial_path(path: Path) -> Path:
    """Where a download is written until it is complete, so a broken one never looks finished."""
    return path.with_name(f".{path.name}.part")
