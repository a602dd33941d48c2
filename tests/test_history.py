"""History (WaveSpeed's `POST /api/v3/predictions`, and GET with the same as query parameters): only the caller's
predictions, newest first, paged and filtered."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes

PRO_ROUTE = "kwaivgi/kling-v2.5-turbo-pro/image-to-video"
IMAGE = base64.b64encode(image_bytes(640, 360)).decode()


def test_history_pages_and_filters(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    other = server.other_key()
    ids = []
    for number in range(5):
        route = PRO_ROUTE if number % 2 else SEED_ROUTE
        answer = server.submit(route, {"prompt": f"zoom {number}", "image": IMAGE, "duration": 3})
        ids.append(answer.json()["data"]["id"])
        time.sleep(0.01)
    middle = datetime.now(UTC)
    server.submit(SEED_ROUTE, {"prompt": "theirs", "image": IMAGE, "duration": 3}, key=other)
    server.client.post(f"/api/v3/predictions/{ids[0]}/cancel")
    server.client.delete(f"/api/v3/predictions/{ids[1]}")

    first = server.client.post("/api/v3/predictions", json={"page": 1, "page_size": 2}).json()["data"]
    assert (first["page"], first["page_size"], first["total"]) == (1, 2, 4), "the deleted one and others' are not"
    assert [item["id"] for item in first["items"]] == [ids[4], ids[3]], "newest first"
    single = server.client.get(f"/api/v3/predictions/{ids[4]}/result").json()["data"]
    assert first["items"][0] == single, "each item is the result endpoint's prediction object"
    rest = server.client.get("/api/v3/predictions", params={"page": 2, "page_size": 2}).json()["data"]
    assert [item["id"] for item in rest["items"]] == [ids[2], ids[0]]

    by_model = server.client.post("/api/v3/predictions", json={"page": 1, "page_size": 10, "model": PRO_ROUTE})
    assert [item["id"] for item in by_model.json()["data"]["items"]] == [ids[3]]
    by_status = server.client.get("/api/v3/predictions", params={"status": "cancelled"}).json()["data"]
    assert [item["id"] for item in by_status["items"]] == [ids[0]]
    recent = server.client.post("/api/v3/predictions", json={"created_after": middle.isoformat()}).json()["data"]
    assert recent["items"] == [] and recent["total"] == 0
    before = server.client.get("/api/v3/predictions",
                               params={"created_before": middle.isoformat(), "page_size": 100}).json()["data"]
    assert before["total"] == 4
    theirs = server.client.get("/api/v3/predictions", headers={"Authorization": other}).json()["data"]
    assert theirs["total"] == 1 and theirs["items"][0]["input"]["prompt"] == "theirs"


def test_history_refuses_what_it_cannot_page(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    for query in ({"page_size": 101}, {"page_size": 0}, {"page": 0}, {"status": "done"},
                  {"created_after": "yesterday"}):
        answer = server.client.post("/api/v3/predictions", json=query)
        assert answer.status_code == 400, (query, answer.text)
        assert answer.json()["error"]["param"] == next(iter(query))
        answer = server.client.get("/api/v3/predictions", params=query)
        assert answer.status_code == 400, (query, answer.text)
    assert server.client.post("/api/v3/predictions", json=[1]).status_code == 400
    assert server.client.post("/api/v3/predictions", headers={"Authorization": "sk-nope"},
                              json={}).status_code == 401
