"""reelserve's app mounted below a root path (inside another ASGI app, or by a server run with a root path): its
routes, body caps, fast path and error dialects all match the path below that prefix, and its links keep it."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx

from reelserve.api.app import create_app
from reelserve.config import Settings
from reelserve.runtime import build_runtime
from tests.conftest import SEED_ROUTE
from tests.support.images import image_bytes

ROOT = "/reelserve"
BASE = "http://proxy.test"


def test_every_layer_of_the_edge_matches_the_path_below_the_root_path(tmp_path: Path) -> None:
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", workers=0))
    key = runtime.keys.create("mounted", balance_usd="10").secret
    runtime.start()
    transport = httpx.ASGITransport(app=create_app(runtime=runtime), root_path=ROOT)
    image = base64.b64encode(image_bytes(800, 800)).decode()
    assert len(image) > runtime.settings.max_small_body_bytes, "over the small cap: only a media route takes it"

    async def scenario() -> dict[str, httpx.Response]:
        async with httpx.AsyncClient(transport=transport, base_url=BASE, headers={"Authorization": key}) as client:
            submitted = await client.post(f"{ROOT}/api/v3/{SEED_ROUTE}", json={"prompt": "zoom in", "image": image})
            assert submitted.status_code == 200, submitted.text
            prediction_id = submitted.json()["data"]["id"]
            return {
                "submitted": submitted,
                "polled": await client.get(f"{ROOT}/api/v3/predictions/{prediction_id}/result"),
                "openai": await client.get(f"{ROOT}/v1/videos/{'0' * 32}"),
                "oversized": await client.post(f"{ROOT}/api/v3/model/pricing/missing", content=b"x" * 70_000),
            }

    try:
        answers = asyncio.run(scenario())
    finally:
        runtime.stop()
    prediction_id = answers["submitted"].json()["data"]["id"]
    polled = answers["polled"]
    assert polled.status_code == 200 and polled.json()["data"]["id"] == prediction_id
    assert polled.json()["data"]["urls"]["get"] == f"{BASE}{ROOT}/api/v3/predictions/{prediction_id}/result"
    openai = answers["openai"]
    assert openai.status_code == 404 and set(openai.json()["error"]) >= {"message", "type", "param", "code"}
    oversized = answers["oversized"]
    assert oversized.status_code == 400 and "limit of 65536 bytes" in oversized.json()["message"]
