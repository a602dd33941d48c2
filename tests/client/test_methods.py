"""Every method of the client against a running reelserve (real uvicorn, real app), on SQLite and on
PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from reelserve.client import AsyncClient, InvalidRequest, NotFound, Prediction
from tests.client.support import MOTION_FPS, RecordingTransport, async_client_of, client_of, video_facts
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes

SEED_PRICE_PER_SECOND = 0.042


def test_upload_run_download_get_balance(start_server: ServerFactory, photo: Path, tmp_path: Path) -> None:
    server = start_server()
    with client_of(server) as client:
        before = client.balance()
        assert before == 1000.0

        uploaded = client.upload(photo)
        assert uploaded.download_url.startswith(server.base_url + "/files/uploads/")
        assert (uploaded.filename, uploaded.type, uploaded.size) == ("photo.png", "image", photo.stat().st_size)
        from_bytes = client.upload(image_bytes(640, 480, "JPEG"))
        assert (from_bytes.filename, from_bytes.type, from_bytes.content_type) == ("upload.jpg", "image", "image/jpeg")

        seen: list[Prediction] = []
        video = client.run(SEED_ROUTE, {"prompt": "slowly zoom in", "image": uploaded.download_url, "duration": 3},
                           progress=seen.append)
        assert video.status == "completed" and video.succeeded and video.error is None
        assert video.model == SEED_ROUTE and len(video.outputs) == 1
        assert video.get_url == f"{server.base_url}/api/v3/predictions/{video.id}/result"
        assert video.has_nsfw_contents == [False] and video.progress == 100
        assert video.execution_time_ms is not None and video.execution_time_ms > 0
        assert video.created_at is not None and video.created_at.utcoffset() == timedelta(0)
        assert video.input["duration"] == 3 and video.input["image"] == uploaded.download_url
        # The callback hears each new state once, from the submit's answer to the end, in order.
        assert seen[0].status == "created" and seen[-1] == video
        assert all(earlier.moment() != later.moment() for earlier, later in pairwise(seen))
        progress = [item.progress or 0 for item in seen]
        assert progress == sorted(progress)

        assert client.get(video.id) == video
        assert client.balance() == pytest.approx(before - 3 * SEED_PRICE_PER_SECOND)

        by_prediction = client.download(video, tmp_path / "by-prediction.mp4")
        by_url = client.download(video.outputs[0], tmp_path / "by-url.mp4")
        assert by_prediction.read_bytes() == by_url.read_bytes()
        assert not list(tmp_path.glob(".*.part"))
        assert video_facts(by_prediction) == {"codec": "h264", "width": 1280, "height": 720, "frames": 3 * MOTION_FPS}

        with pytest.raises(InvalidRequest, match="has no outputs"):
            client.download(client.submit(SEED_ROUTE, {"prompt": "p", "image": uploaded.download_url}),
                            tmp_path / "none.mp4")


def test_async_client_does_the_same(start_server: ServerFactory, photo: Path, tmp_path: Path) -> None:
    server = start_server()

    async def scenario() -> tuple[float, Prediction, Prediction, Path]:
        async with async_client_of(server) as client:
            uploaded = await client.upload(photo)
            seen: list[Prediction] = []
            video = await client.run(SEED_ROUTE, {"prompt": "pan left", "image": uploaded.download_url,
                                                  "duration": 3, "aspect_ratio": "9:16"}, progress=seen.append)
            assert seen[0].status == "created" and seen[-1] == video
            again = await client.get(video.id)
            path = await client.download(video, tmp_path / "async.mp4")
            return await client.balance(), video, again, path

    balance, video, again, path = asyncio.run(scenario())
    assert video.succeeded and again == video
    assert balance == pytest.approx(1000 - 3 * SEED_PRICE_PER_SECOND)
    assert video_facts(path) == {"codec": "h264", "width": 720, "height": 1280, "frames": 3 * MOTION_FPS}


def test_submit_then_wait_by_id(start_server: ServerFactory, photo: Path) -> None:
    server = start_server()
    with client_of(server) as client:
        image = client.upload(photo).download_url
        submitted = client.submit(SEED_ROUTE, {"prompt": "tilt up", "image": image, "duration": 3})
        assert submitted.status in ("created", "processing") and submitted.outputs == []
        finished = client.wait(submitted.id, timeout=120)
        assert finished.id == submitted.id and finished.status == "completed"
        synchronous = client.submit(SEED_ROUTE, {"prompt": "tilt up", "image": image, "duration": 3,
                                                 "enable_sync_mode": True})
        assert synchronous.status == "completed" and synchronous.outputs
        assert client.wait(synchronous) is synchronous


# The job-lifecycle endpoints (issue 13), written against /work/briefs/lifecycle-api.md.


def test_stream_and_wait_follow_the_event_stream(start_server: ServerFactory, photo: Path) -> None:
    server = start_server()
    with client_of(server) as client:
        image = client.upload(photo).download_url
        submitted = client.submit(SEED_ROUTE, {"prompt": "zoom out", "image": image, "duration": 5})
        events = list(client.stream(submitted.id))
        assert events and all(event.id == submitted.id for event in events)
        assert events[-1].status == "completed" and events[-1].outputs
        assert all(not event.finished for event in events[:-1])
        progress = [event.progress or 0 for event in events]
        assert progress == sorted(progress)

    transport = RecordingTransport()
    with client_of(server, transport=transport) as client:
        submitted = client.submit(SEED_ROUTE, {"prompt": "zoom out", "image": image, "duration": 3})
        seen: list[Prediction] = []
        finished = client.wait(submitted, progress=seen.append)
        assert finished.status == "completed" and seen[-1] == finished
        stream_path = f"/api/v3/predictions/{submitted.id}/stream"
        assert ("GET", stream_path) in transport.requests
        assert ("GET", f"/api/v3/predictions/{submitted.id}/result") not in transport.requests, "no polling"

    async def async_events() -> list[Prediction]:
        async with async_client_of(server) as client:
            submitted = await client.submit(SEED_ROUTE, {"prompt": "pan right", "image": image, "duration": 3})
            return [event async for event in client.stream(submitted.id)]

    assert asyncio.run(async_events())[-1].status == "completed"


def test_cancel_delete_and_refund(start_server: ServerFactory, photo: Path) -> None:
    server = start_server(workers=0)
    with client_of(server) as client:
        image = client.upload(photo).download_url
        before = client.balance()
        queued = client.submit(SEED_ROUTE, {"prompt": "p", "image": image, "duration": 5})
        assert client.get(queued.id).queue_position == 1
        assert client.balance() == pytest.approx(before - 5 * SEED_PRICE_PER_SECOND)
        cancelled = client.cancel(queued.id)
        assert cancelled.id == queued.id and cancelled.status == "cancelled"
        assert client.get(queued.id).status == "cancelled"
        assert client.balance() == pytest.approx(before), "a cancelled job is refunded in full"
        with pytest.raises(InvalidRequest):
            client.cancel(queued.id)

        client.delete(queued.id)
        with pytest.raises(NotFound):
            client.get(queued.id)
        with pytest.raises(NotFound):
            client.delete(queued.id)

        mine = [client.submit(SEED_ROUTE, {"prompt": f"p{n}", "image": image}).id for n in range(2)]
        for prediction_id in mine:
            client.cancel(prediction_id)
        other_key = server.other_key()
        with client_of(server, key=other_key) as other:
            theirs = other.submit(SEED_ROUTE, {"prompt": "theirs", "image": other.upload(photo).download_url}).id
        assert client.delete_many([*mine, theirs]) == 2
        with client_of(server, key=other_key) as other:
            assert other.get(theirs).id == theirs

    async def async_cancel() -> tuple[str, int]:
        async with async_client_of(server) as client:
            queued = await client.submit(SEED_ROUTE, {"prompt": "p", "image": image})
            status = (await client.cancel(queued.id)).status
            await client.delete(queued.id)
            return status, (await client.history()).total

    assert asyncio.run(async_cancel()) == ("cancelled", 0)


def test_history_pages_and_filters(start_server: ServerFactory, photo: Path) -> None:
    server = start_server(workers=0)
    pro = "kwaivgi/kling-v2.5-turbo-pro/image-to-video"
    with client_of(server) as client:
        image = client.upload(photo).download_url
        made = [client.submit(route, {"prompt": f"p{n}", "image": image}).id
                for n, route in enumerate([SEED_ROUTE, pro, SEED_ROUTE])]
        client.cancel(made[0])

        first = client.history(page=1, page_size=2)
        assert (first.page, first.page_size, first.total) == (1, 2, 3)
        assert [item.id for item in first.items] == [made[2], made[1]], "newest first"
        second = client.history(page=2, page_size=2)
        assert [item.id for item in second.items] == [made[0]]

        assert {item.id for item in client.history(model=SEED_ROUTE).items} == {made[0], made[2]}
        assert [item.id for item in client.history(status="cancelled").items] == [made[0]]
        assert [item.id for item in client.history(model=pro, status="created").items] == [made[1]]
        future = datetime.now(UTC) + timedelta(hours=1)
        assert client.history(created_after=future).total == 0
        assert client.history(created_before=future.isoformat()).total == 3
        with pytest.raises(InvalidRequest):
            client.history(page_size=101)
    with client_of(server, key=server.other_key()) as other:
        assert other.history().total == 0, "only the caller's predictions"


def test_idempotent_submit_and_webhook(start_server: ServerFactory, photo: Path) -> None:
    server = start_server(workers=0)
    with client_of(server) as client:
        image = client.upload(photo).download_url
        before = client.balance()
        body = {"prompt": "p", "image": image, "duration": 5}
        hook = "http://127.0.0.1:9/hook"
        first = client.submit(SEED_ROUTE, body, idempotency_key="order-17", webhook=hook)
        again = client.submit(SEED_ROUTE, body, idempotency_key="order-17", webhook=hook)
        assert again.id == first.id
        assert client.balance() == pytest.approx(before - 5 * SEED_PRICE_PER_SECOND), "charged once"
        with pytest.raises(InvalidRequest):
            client.submit(SEED_ROUTE, {**body, "prompt": "other"}, idempotency_key="order-17")
        client.cancel(first.id)
    deliveries = server.client.get(f"/api/v3/predictions/{first.id}/webhooks").json()["data"]["items"]
    assert [delivery["url"] for delivery in deliveries] == [hook]


def test_webhook_secret_and_rotation(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    with client_of(server) as client:
        secret = client.webhook_secret()
        assert secret.startswith("whsec_") and client.webhook_secret() == secret
        rotated = client.rotate_webhook_secret()
        assert rotated.startswith("whsec_") and rotated != secret
        assert client.webhook_secret() == rotated

    async def async_secret() -> str:
        async with AsyncClient(api_key=server.key, base_url=server.base_url) as client:
            return await client.webhook_secret()

    assert asyncio.run(async_secret()) == rotated


def test_completed_prediction_carries_price_and_posters(start_server: ServerFactory, photo: Path) -> None:
    server = start_server()
    with client_of(server) as client:
        video = client.run(SEED_ROUTE, {"prompt": "zoom in", "image": client.upload(photo).download_url,
                                        "duration": 3})
        assert video.price == pytest.approx(3 * SEED_PRICE_PER_SECOND)
        assert len(video.posters) == 1 and video.posters[0].startswith(server.base_url)
        assert video.queue_position is None and video.outputs_expired_at is None
