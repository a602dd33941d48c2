"""The client driving the real app in-process through httpx's ASGITransport: no socket, same answers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from reelserve.api.app import create_app
from reelserve.client import AsyncClient, AuthenticationError, InvalidRequest
from reelserve.config import Settings
from reelserve.runtime import build_runtime
from tests.client.support import MOTION_FPS, video_facts
from tests.conftest import SEED_ROUTE
from tests.support.images import image_bytes


def test_async_client_over_asgi_transport(tmp_path: Path) -> None:
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", workers=1, worker_poll_seconds=0.2))
    key = runtime.keys.create("asgi", balance_usd="10").secret
    runtime.start()
    transport = httpx.ASGITransport(app=create_app(runtime=runtime))

    async def scenario() -> Path:
        async with AsyncClient(api_key=key, base_url="http://reelserve.asgi", transport=transport) as client:
            assert await client.balance() == 10
            image = await client.upload(image_bytes(800, 800))
            assert image.download_url.startswith("http://reelserve.asgi/files/uploads/")
            with pytest.raises(InvalidRequest) as caught:
                await client.submit(SEED_ROUTE, {"prompt": "p", "image": image.download_url, "aspect_ratio": "4:3"})
            assert caught.value.param == "aspect_ratio"
            video = await client.run(SEED_ROUTE, {"prompt": "zoom in", "image": image.download_url,
                                                  "duration": 3, "aspect_ratio": "1:1"})
            assert video.outputs[0].startswith("http://reelserve.asgi/files/outputs/")
            path = await client.download(video, tmp_path / "asgi.mp4")
        async with AsyncClient(api_key="sk-wrong", base_url="http://reelserve.asgi", transport=transport) as client:
            with pytest.raises(AuthenticationError):
                await client.balance()
        return path

    try:
        path = asyncio.run(scenario())
    finally:
        runtime.stop()
    assert video_facts(path) == {"codec": "h264", "width": 960, "height": 960, "frames": 3 * MOTION_FPS}
