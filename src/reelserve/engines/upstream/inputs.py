"""A job's parameters and images as a provider takes them: wire names, the binding's renames, fixed
values and omissions, images encoded once as JPEG."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from reelserve.engines.base import GenerationRequest
from reelserve.engines.upstream.options import InputOptions

NOT_SENT = frozenset({"segments", "enable_sync_mode"})
IMAGE_FIELDS = ("image", "end_image")
JPEG_QUALITY = 95


@dataclass
class JobInput:
    params: dict[str, Any]
    """The parameters under the provider's names."""
    images: dict[str, bytes] = field(default_factory=dict)
    """Provider name -> the image as JPEG; each adapter sends them as its provider takes files."""


def job_input(
    request: GenerationRequest,
    wire_names: Mapping[str, str],
    provider_renames: Mapping[str, str],
    options: InputOptions,
    route_params: Collection[str] | None = None,
) -> JobInput:
    """`route_params`: the route's own parameters; the values engines are given besides (an aspect ratio or
    sound the route has no parameter for) are not sent."""
    renames = {**provider_renames, **options.rename}

    def provider_name(name: str) -> str:
        wire = wire_names.get(name, name)
        return renames.get(wire, renames.get(name, wire))

    params = {
        provider_name(name): value
        for name, value in request.params.items()
        if value is not None and name not in NOT_SENT and name not in IMAGE_FIELDS
        and (route_params is None or name in route_params)
    }
    images = {
        provider_name(name): jpeg_bytes(image)
        for name, image in (("image", request.image), ("end_image", request.end_image))
        if image is not None
    }
    for name in options.omit:
        params.pop(name, None)
        images.pop(name, None)
    for name in options.as_string:
        if name in params and not isinstance(params[name], str):
            params[name] = json.dumps(params[name]) if isinstance(params[name], bool) else str(params[name])
    params.update(options.fixed)
    return JobInput(params, images)


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def base64_text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_uri(data: bytes, content_type: str = "image/jpeg") -> str:
    return f"data:{content_type};base64,{base64_text(data)}"
