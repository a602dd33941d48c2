"""OpenAI's Videos API, driven by the real `openai` package (unmodified) against a running reelserve on SQLite and
PostgreSQL: create with an input_reference file, poll, download, remix, list, delete; refusals in OpenAI's error
shape; the same predictions seen through v3; balances and the ledger exact."""

from __future__ import annotations

import io
import time
from typing import Any

import av
import httpx
import openai
import pytest
from PIL import Image
from sqlalchemy import update

from reelserve.service.keys import KeyLimits
from reelserve.store import accounts as account_store
from reelserve.store.tables import Prediction, utcnow
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.dialects import assert_openai_error
from tests.support.images import image_bytes
from tests.support.server import RunningServer

PNG = image_bytes(640, 360)
PRICE_PER_SECOND = 0.042


def customer(server: RunningServer, balance: str = "10", limits: KeyLimits | None = None) -> tuple[str, str]:
    created = server.runtime.keys.create("customer", balance_usd=balance, limits=limits or KeyLimits())
    return created.secret, created.info.account_id


def videos_client(server: RunningServer, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{server.base_url}/v1", max_retries=0, timeout=60)


def balance(server: RunningServer, key: str) -> float:
    return server.client.get("/api/v3/balance", headers={"Authorization": key}).json()["data"]["balance"]


def assert_ledger_holds(server: RunningServer, account_id: str) -> None:
    with server.runtime.database.session() as session:
        account = account_store.get(session, account_id)
        assert account is not None and account.balance_micros == account_store.ledger_sum(session, account_id)


def v3_result(server: RunningServer, prediction_id: str, key: str) -> dict[str, Any]:
    response = server.client.get(f"/api/v3/predictions/{prediction_id}/result", headers={"Authorization": key})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def decoded(mp4: bytes) -> tuple[int, int, float]:
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.width, stream.height, frames / float(stream.average_rate)


def test_the_openai_client_creates_polls_downloads_remixes_lists_and_deletes(start_server: ServerFactory) -> None:
    server = start_server(output_retention_seconds=3600)
    key, account_id = customer(server)
    client = videos_client(server, key)

    video = client.videos.create_and_poll(
        prompt="slowly zoom in", input_reference=("cat.png", PNG, "image/png"), seconds="3", size="1280x720",
        model="kwaivgi/kling-v2.5",
    )
    assert video.status == "completed", video
    assert (video.object, video.model, video.seconds, video.size, video.progress) == (
        "video", SEED_ROUTE, "3", "1280x720", 100)
    assert video.prompt == "slowly zoom in" and video.remixed_from_video_id is None and video.error is None
    assert video.created_at <= video.completed_at <= time.time() + 1
    assert video.expires_at == video.completed_at + 3600

    mp4 = client.videos.download_content(video.id).content
    width, height, seconds = decoded(mp4)
    assert (width, height) == (1280, 720) and seconds == pytest.approx(3, abs=0.05)
    thumbnail = client.videos.download_content(video.id, variant="thumbnail")
    assert thumbnail.response.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumbnail.content)).format == "JPEG"

    remix = client.videos.remix(video.id, prompt="pan left")
    assert remix.status in ("queued", "in_progress") and remix.remixed_from_video_id == video.id
    remix = client.videos.poll(remix.id)
    assert remix.status == "completed" and remix.prompt == "pan left" and remix.seconds == "3"
    remixed = v3_result(server, remix.id, key)
    assert remixed["input"]["remixed_from"] == video.id and remixed["input"]["prompt"] == "pan left"
    assert remixed["input"]["image"] == v3_result(server, video.id, key)["input"]["image"]
    assert decoded(httpx.get(remixed["outputs"][0]).content)[:2] == (1280, 720)

    assert [item.id for item in client.videos.list()] == [remix.id, video.id]
    assert [item.id for item in client.videos.list(order="asc")] == [video.id, remix.id]
    first_page = client.videos.list(limit=1)
    assert [item.id for item in first_page.data] == [remix.id] and first_page.has_more
    assert [item.id for item in client.videos.list(limit=1, after=remix.id).data] == [video.id]
    assert [item.id for item in client.videos.list(limit=1)] == [remix.id, video.id], "auto-paging follows last_id"

    history = server.client.get("/api/v3/predictions", headers={"Authorization": key}).json()["data"]
    assert [item["id"] for item in history["items"]] == [remix.id, video.id]
    assert balance(server, key) == round(10 - 2 * 3 * PRICE_PER_SECOND, 6)

    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (video.id, True, "video.deleted")
    with pytest.raises(openai.NotFoundError) as missing:
        client.videos.retrieve(video.id)
    assert missing.value.body["code"] == "not_found"
    assert server.client.get(f"/api/v3/predictions/{video.id}/result",
                             headers={"Authorization": key}).status_code == 404
    assert balance(server, key) == round(10 - 2 * 3 * PRICE_PER_SECOND, 6), "a delete refunds nothing done"
    assert_ledger_holds(server, account_id)


def test_json_create_with_an_image_url_is_idempotent_and_polls_at_the_suggested_pace(
    start_server: ServerFactory, image_url: str
) -> None:
    server = start_server(workers=0)
    key, account_id = customer(server)
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "order-17"}
    request = {"prompt": "zoom in", "input_reference": {"image_url": image_url}, "seconds": 4,
               "model": SEED_ROUTE}
    first = server.client.post("/v1/videos", json=request, headers=headers)
    again = server.client.post("/v1/videos", json=request, headers=headers)
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["id"] == again.json()["id"] and first.json()["status"] == "queued"
    assert balance(server, key) == round(10 - 4 * PRICE_PER_SECOND, 6), "charged once"
    other = server.client.post("/v1/videos", json={**request, "seconds": "5"}, headers=headers)
    assert "Idempotency-Key" in assert_openai_error(other, 400)["message"]

    video_id = first.json()["id"]
    retrieved = videos_client(server, key).videos.with_raw_response.retrieve(video_id)
    assert 500 <= int(retrieved.headers["openai-poll-after-ms"]) <= 5000
    assert retrieved.parse().status == "queued"
    data = v3_result(server, video_id, key)
    assert data["input"]["image"] == image_url and data["input"]["duration"] == 4 and data["queue_position"] == 1

    url_encoded = server.client.post("/v1/videos", data={"prompt": "zoom in", "input_reference[image_url]": image_url,
                                                        "seconds": "3"}, headers={"Authorization": key})
    assert url_encoded.status_code == 200 and url_encoded.json()["seconds"] == "3", url_encoded.text
    assert_ledger_holds(server, account_id)


def test_a_job_made_here_is_cancelled_through_v3_and_reads_failed_with_its_reason(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    key, account_id = customer(server)
    client = videos_client(server, key)
    video = client.videos.create(prompt="tilt up", input_reference=("cat.png", PNG, "image/png"))
    assert video.status == "queued" and video.seconds == "5" and video.size == "1280x720"
    assert balance(server, key) == round(10 - 5 * PRICE_PER_SECOND, 6)
    cancelled = server.client.post(f"/api/v3/predictions/{video.id}/cancel", headers={"Authorization": key})
    assert cancelled.status_code == 200, cancelled.text
    video = client.videos.retrieve(video.id)
    assert video.status == "failed" and video.error is not None
    assert (video.error.code, video.error.message) == ("cancelled", "cancelled before it started")
    assert video.completed_at is not None and video.expires_at is None
    assert balance(server, key) == 10, "refunded in full"
    with pytest.raises(openai.BadRequestError) as not_ready:
        client.videos.download_content(video.id)
    assert "has no content" in not_ready.value.message
    assert_ledger_holds(server, account_id)


def test_refusals_come_in_openai_error_shape(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    key, account_id = customer(server, balance="0.30")
    client = videos_client(server, key)
    file = ("cat.png", PNG, "image/png")

    def refused(error: type[openai.APIStatusError], **create: Any) -> dict[str, Any]:
        with pytest.raises(error) as raised:
            client.videos.create(**{"prompt": "zoom in", "input_reference": file, **create})
        body = raised.value.body
        assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}, body
        return body

    assert refused(openai.BadRequestError, model="sora-2")["param"] == "model"
    size = refused(openai.BadRequestError, size="1024x1792")
    assert size["param"] == "size" and "4:7" in size["message"]
    assert size["message"].startswith("size 1024x1792: "), size["message"]
    seconds = refused(openai.BadRequestError, seconds="20")
    assert seconds["param"] == "seconds" and "15" in seconds["message"]
    assert seconds["message"].startswith("seconds (duration of the route): "), seconds["message"]
    blocked = refused(openai.BadRequestError, prompt="c.h.i.l.d p0rn")
    assert (blocked["code"], blocked["param"]) == ("moderation_blocked", "prompt")
    broke = refused(openai.PermissionDeniedError, seconds="8")
    assert (broke["type"], broke["code"]) == ("insufficient_quota", "insufficient_quota")
    assert balance(server, key) == 0.30, "nothing refused was charged"

    unauthenticated = videos_client(server, "sk-not-a-key")
    with pytest.raises(openai.AuthenticationError) as unknown_key:
        unauthenticated.videos.list()
    assert unknown_key.value.body["code"] == "invalid_api_key"

    base = server.base_url
    auth = {"Authorization": f"Bearer {key}"}
    assert_openai_error(httpx.post(f"{base}/v1/videos", json={"prompt": "x", "seconds": "five"}, headers=auth), 400)
    file_id = httpx.post(f"{base}/v1/videos", json={"prompt": "x", "input_reference": {"file_id": "file-1"}},
                         headers=auth)
    assert assert_openai_error(file_id, 400)["param"] == "input_reference"
    assert assert_openai_error(httpx.post(f"{base}/v1/videos", content=b"{", headers=auth), 400)
    assert_openai_error(httpx.get(f"{base}/v1/videos?limit=1000", headers=auth), 400)
    assert_openai_error(httpx.get(f"{base}/v1/videos?after=nope", headers=auth), 404)
    assert_openai_error(httpx.get(f"{base}/v1/nothing-here", headers=auth), 404)
    assert_openai_error(httpx.put(f"{base}/v1/videos", headers=auth), 405)

    made = client.videos.create(prompt="zoom in", input_reference=file)
    spritesheet = httpx.get(f"{base}/v1/videos/{made.id}/content?variant=spritesheet", headers=auth)
    assert assert_openai_error(spritesheet, 400)["param"] == "variant"
    stranger = {"Authorization": server.other_key()}
    assert_openai_error(httpx.get(f"{base}/v1/videos/{made.id}", headers=stranger), 404)
    assert_openai_error(httpx.post(f"{base}/v1/videos/{made.id}/remix", json={"prompt": "x"}, headers=stranger), 404)

    hurried, _ = customer(server, limits=KeyLimits(rpm=1))
    assert httpx.post(f"{base}/v1/videos/{made.id}/remix", json={"prompt": "x"},
                      headers={"Authorization": hurried}).status_code == 404
    limited = httpx.post(f"{base}/v1/videos", json={"prompt": "x"}, headers={"Authorization": hurried})
    limit = assert_openai_error(limited, 429)
    assert (limit["type"], limit["code"]) == ("requests", "rate_limit_exceeded")
    assert int(limited.headers["retry-after"]) > 0 and limited.headers["x-ratelimit-limit"] == "1"
    assert balance(server, key) == round(0.30 - 5 * PRICE_PER_SECOND, 6)
    assert_ledger_holds(server, account_id)


def test_the_content_of_a_video_whose_files_were_removed_is_gone(start_server: ServerFactory) -> None:
    server = start_server()
    key, _ = customer(server)
    client = videos_client(server, key)
    video = client.videos.create_and_poll(prompt="zoom out", input_reference=("cat.png", PNG, "image/png"),
                                          seconds="3")
    with server.runtime.database.write() as connection:
        connection.execute(
            update(Prediction).where(Prediction.id == video.id).values(completed_at=utcnow().replace(year=2025))
        )
    server.runtime.maintenance.run_once()
    expired = client.videos.retrieve(video.id)
    assert expired.status == "completed" and expired.expires_at is not None and expired.expires_at <= time.time()
    with pytest.raises(openai.NotFoundError) as gone:
        client.videos.download_content(video.id)
    assert "retention" in gone.value.message
    with pytest.raises(openai.BadRequestError) as no_inputs:
        client.videos.remix(video.id, prompt="again")
    assert "retention" in no_inputs.value.message
