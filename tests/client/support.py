"""Helpers for the client's tests: clients of a running server, and what a video file holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import httpx

from reelserve.client import AsyncClient, Client
from tests.support.server import RunningServer

MOTION_SIZES = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (960, 960)}
MOTION_FPS = 24


def client_of(server: RunningServer, key: str | None = None, **options: Any) -> Client:
    return Client(api_key=key or server.key, base_url=server.base_url, **options)


def async_client_of(server: RunningServer, key: str | None = None, **options: Any) -> AsyncClient:
    return AsyncClient(api_key=key or server.key, base_url=server.base_url, **options)


def video_facts(path: Path) -> dict[str, Any]:
    """Decodes every frame: a file that is not a playable video fails here."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return {
            "codec": stream.codec_context.name,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "frames": frames,
        }


class RecordingTransport(httpx.HTTPTransport):
    """The real network transport, noting the method and path of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        return super().handle_request(request)
