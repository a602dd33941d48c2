"""Polls and submits answered in front of FastAPI's routing (api/fast_path.py) say exactly what the routes say."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from reelserve.api.app import create_app
from reelserve.api.fast_path import KnownKeyFastPath
from reelserve.service.keys import hash_key
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes
from tests.support.server import RunningServer


def submit_inline(server: RunningServer) -> str:
    import base64

    body = {"prompt": "slowly zoom in", "image": base64.b64encode(image_bytes(400, 400)).decode()}
    response = server.submit(SEED_ROUTE, body)
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["id"])


def forget_key(server: RunningServer, raw_key: str) -> None:
    assert server.runtime.keys.recent.get(hash_key(raw_key)) is not None
    server.runtime.keys.recent.forget(server.runtime.keys.recent.get(hash_key(raw_key)).id)
    assert server.runtime.keys.recognised(raw_key) is None


def answer(response: httpx.Response) -> tuple[int, str, Any]:
    return response.status_code, response.headers["content-type"], response.json()


def test_first_poll_through_the_app_and_the_next_through_the_fast_path_agree(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    prediction_id = submit_inline(server)
    other = server.other_key()
    server.client.get("/api/v3/predictions/" + prediction_id, headers={"Authorization": other})
    cases = [
        (f"/api/v3/predictions/{prediction_id}/result", server.key),
        (f"/api/v3/predictions/{prediction_id}", server.key),
        (f"/api/v3/predictions/{prediction_id}/result", other),
        ("/api/v3/predictions/" + "0" * 32 + "/result", server.key),
    ]
    for path, key in cases:
        forget_key(server, key)
        through_app = server.client.get(path, headers={"Authorization": key})
        assert server.runtime.keys.recognised(key) is not None
        through_fast_path = server.client.get(path, headers={"Authorization": key})
        assert answer(through_fast_path) == answer(through_app), path
    assert answer(through_app)[0] == 404
    owner_view = server.client.get(f"/api/v3/predictions/{prediction_id}/result").json()["data"]
    assert owner_view["id"] == prediction_id and owner_view["status"] == "created"


def test_a_finished_prediction_reads_the_same_both_ways(start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server(workers=1)
    prediction_id = submit_inline(server)
    finished = server.wait(prediction_id)
    assert finished["status"] == "completed"
    forget_key(server, server.key)
    through_app = server.client.get(f"/api/v3/predictions/{prediction_id}/result").json()["data"]
    through_fast_path = server.client.get(f"/api/v3/predictions/{prediction_id}/result").json()["data"]
    assert [url.split("?")[0] for url in through_fast_path["outputs"]] == [
        url.split("?")[0] for url in through_app["outputs"]
    ]
    assert {**through_fast_path, "outputs": []} == {**through_app, "outputs": []}
    assert server.client.get(through_fast_path["outputs"][0]).status_code == 200


class RefusingApp:
    """Stands in for FastAPI's router: any request that reaches it fails the test."""

    def __init__(self) -> None:
        self.reached: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize("suffix", ["/result", ""])
def test_a_known_key_is_answered_without_the_router(api_server: RunningServer, suffix: str) -> None:
    prediction_id = submit_inline(api_server)
    app = create_app(runtime=api_server.runtime)
    refusing = RefusingApp()
    fast_path = KnownKeyFastPath(refusing)

    async def with_app_in_scope(scope: Scope, receive: Receive, send: Send) -> None:
        await fast_path({**scope, "app": app}, receive, send)

    async def poll(path: str, key: str | None) -> httpx.Response:
        transport = httpx.ASGITransport(app=with_app_in_scope)
        async with httpx.AsyncClient(transport=transport, base_url=api_server.base_url) as client:
            return await client.get(path, headers={"Authorization": key} if key else {})

    path = f"/api/v3/predictions/{prediction_id}{suffix}"
    known = asyncio.run(poll(path, api_server.key))
    assert known.status_code == 200 and known.json()["data"]["id"] == prediction_id
    assert known.json()["data"]["urls"]["get"] == f"{api_server.base_url}/api/v3/predictions/{prediction_id}/result"
    missing = asyncio.run(poll("/api/v3/predictions/" + "f" * 32 + suffix, api_server.key))
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    assert refusing.reached == []

    unknown_key = asyncio.run(poll(path, "sk-not-a-key"))
    no_key = asyncio.run(poll(path, None))
    other_route = asyncio.run(poll("/api/v3/predictions", api_server.key))
    assert unknown_key.status_code == no_key.status_code == other_route.status_code == 599
    assert refusing.reached == [path, path, "/api/v3/predictions"]


def without_identity(found: tuple[int, str, Any]) -> tuple[int, str, Any]:
    status, content_type, body = found
    if status == 200:
        body = {**body, "data": {k: v for k, v in body["data"].items() if k not in ("id", "created_at", "urls")}}
    return status, content_type, body


def test_submits_through_the_app_and_through_the_fast_path_agree(start_server: ServerFactory) -> None:
    import base64

    server = start_server(workers=0)
    image = base64.b64encode(image_bytes(400, 400)).decode()
    poor = server.other_key("poor", balance_usd="0.01")
    json_type = {"Content-Type": "application/json"}
    cases: list[tuple[str, dict[str, Any], str]] = [
        (server.key, {"json": {"prompt": "pan left", "image": image, "duration": 3}}, "valid"),
        (server.key, {"json": {"prompt": "pan left", "image": image, "duration": 99}}, "duration out of range"),
        (server.key, {"json": {"prompt": "child porn", "image": image}}, "content policy"),
        (server.key, {"content": b"{not json", "headers": json_type}, "malformed JSON"),
        (server.key, {"content": b"prompt=x", "headers": {"Content-Type": "text/plain"}}, "wrong content type"),
        (server.key, {"json": {"prompt": "pan left", "image": "ftp://example.com/x.png"}}, "bad image scheme"),
        (poor, {"json": {"prompt": "pan left", "image": image, "duration": 3}}, "insufficient balance"),
    ]
    statuses = []
    for key, request, case in cases:
        headers = {"Authorization": key, **request.pop("headers", {})}
        if server.runtime.keys.recognised(key) is not None:
            forget_key(server, key)
        through_app = server.client.post(f"/api/v3/{SEED_ROUTE}", headers=headers, **request)
        assert server.runtime.keys.recognised(key) is not None
        through_fast_path = server.client.post(f"/api/v3/{SEED_ROUTE}", headers=headers, **request)
        assert without_identity(answer(through_fast_path)) == without_identity(answer(through_app)), case
        if through_app.status_code == 200:
            for response in (through_app, through_fast_path):
                assert set(response.headers) >= {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"}
        statuses.append(through_app.status_code)
    assert statuses == [200, 400, 400, 400, 400, 400, 403]


def test_a_known_key_submits_without_the_router(api_server: RunningServer) -> None:
    import base64

    app = create_app(runtime=api_server.runtime)
    refusing = RefusingApp()
    fast_path = KnownKeyFastPath(refusing)
    body = {"prompt": "zoom in", "image": base64.b64encode(image_bytes(400, 400)).decode(), "duration": 3}

    async def with_app_in_scope(scope: Scope, receive: Receive, send: Send) -> None:
        await fast_path({**scope, "app": app}, receive, send)

    async def send(method: str, path: str, key: str | None) -> httpx.Response:
        transport = httpx.ASGITransport(app=with_app_in_scope)
        async with httpx.AsyncClient(transport=transport, base_url=api_server.base_url) as client:
            headers = {"Authorization": key} if key else {}
            return await client.request(method, path, json=body if method == "POST" else None, headers=headers)

    api_server.client.get("/api/v3/balance")
    known = asyncio.run(send("POST", f"/api/v3/{SEED_ROUTE}", api_server.key))
    assert known.status_code == 200 and known.json()["data"]["status"] == "created"
    assert refusing.reached == []
    polled = api_server.client.get(f"/api/v3/predictions/{known.json()['data']['id']}/result")
    assert polled.json()["data"]["input"]["prompt"] == "zoom in"

    unknown_key = asyncio.run(send("POST", f"/api/v3/{SEED_ROUTE}", "sk-not-a-key"))
    not_a_route = asyncio.run(send("POST", "/api/v3/kwaivgi/no-such-model/image-to-video", api_server.key))
    read_of_a_route = asyncio.run(send("GET", f"/api/v3/{SEED_ROUTE}", api_server.key))
    assert unknown_key.status_code == not_a_route.status_code == read_of_a_route.status_code == 599
    assert len(refusing.reached) == 3
