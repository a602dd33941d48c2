"""`GET /api/v3/predictions/{id}/stream`: the prediction object on each change, in order, ending after it ends."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes

IMAGE = base64.b64encode(image_bytes(640, 360)).decode()


def events(client: httpx.Client, prediction_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    with client.stream("GET", f"/api/v3/predictions/{prediction_id}/stream", timeout=60) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in answer.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                assert name == "prediction"
                found.append(json.loads(line[len("data: "):]))
    return found


def test_a_stream_follows_a_job_from_the_queue_to_its_end(start_server: ServerFactory) -> None:
    server = start_server(workers=1)
    blocker = server.submit(SEED_ROUTE, {"prompt": "zoom in", "image": IMAGE, "duration": 10}).json()["data"]["id"]
    followed = server.submit(SEED_ROUTE, {"prompt": "pan left", "image": IMAGE, "duration": 10}).json()["data"]["id"]
    seen = events(server.client, followed)
    statuses = [event["status"] for event in seen]
    assert statuses[0] == "created" and seen[0]["queue_position"] >= 1
    assert statuses[-1] == "completed" and statuses.count("completed") == 1
    assert "processing" in statuses
    order = ["created", "processing", "completed"]
    assert [order.index(status) for status in statuses] == sorted(order.index(status) for status in statuses)
    progress = [event["progress"] for event in seen if event["status"] == "processing"]
    assert progress == sorted(progress) and len(set(progress)) >= 2, "progress rises while it runs"
    assert seen[-1] == server.client.get(f"/api/v3/predictions/{followed}/result").json()["data"]
    assert server.wait(blocker)["status"] == "completed"
    assert [event["status"] for event in events(server.client, followed)] == ["completed"], "an ended job: one event"


def test_a_stream_ends_with_a_cancel_and_is_only_for_the_owner(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    prediction_id = server.submit(SEED_ROUTE, {"prompt": "zoom", "image": IMAGE}).json()["data"]["id"]
    other = server.other_key()
    assert server.client.get(f"/api/v3/predictions/{prediction_id}/stream",
                             headers={"Authorization": other}).status_code == 404
    with server.client.stream("GET", f"/api/v3/predictions/{prediction_id}/stream", timeout=30) as answer:
        lines = answer.iter_lines()
        assert next(lines) == "event: prediction"
        assert json.loads(next(lines)[len("data: "):])["status"] == "created"
        server.client.post(f"/api/v3/predictions/{prediction_id}/cancel")
        rest = [line for line in lines if line.startswith("data: ")]
    assert [json.loads(line[6:])["status"] for line in rest] == ["cancelled"]
