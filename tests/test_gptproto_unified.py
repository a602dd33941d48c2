"""GPTProto's unified video API, driven by the real `gptproto` package (unmodified) against a running reelserve on
SQLite and PostgreSQL: run("video") with a first frame, get; refusals in the unified error shape; the same
prediction read through v3 and OpenAI's dialect; balances and the ledger exact."""

from __future__ import annotations

import base64
import io
from typing import Any

import av
import httpx
import openai
import pytest
from gptproto import GptprotoClient, TaskFailedError
from gptproto.models import FrameImage, ImageUrl, UnifiedVideoRequest
from gptproto.models.frame_image_frame_type import FrameImageFrameType
from gptproto.models.frame_image_type import FrameImageType
from gptproto.models.provider_options import ProviderOptions
from gptproto.models.video_aspect_ratio import VideoAspectRatio

from reelserve.store import accounts as account_store
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.dialects import assert_unified_error
from tests.support.images import image_bytes
from tests.support.server import RunningServer

IMAGE = "data:image/png;base64," + base64.b64encode(image_bytes(640, 360)).decode()
PRO_ROUTE = "kwaivgi/kling-v2.5-turbo-pro/image-to-video"


def customer(server: RunningServer, balance: str = "10") -> tuple[str, str]:
    created = server.runtime.keys.create("customer", balance_usd=balance)
    return created.secret, created.info.account_id


def frame(url: str, kind: FrameImageFrameType = FrameImageFrameType.FIRST_FRAME) -> FrameImage:
    return FrameImage(type_=FrameImageType.IMAGE_URL, frame_type=kind, image_url=ImageUrl(url=url))


def balance(server: RunningServer, key: str) -> float:
    return server.client.get("/api/v3/balance", headers={"Authorization": key}).json()["data"]["balance"]


def assert_ledger_holds(server: RunningServer, account_id: str) -> None:
    with server.runtime.database.session() as session:
        account = account_store.get(session, account_id)
        assert account is not None and account.balance_micros == account_store.ledger_sum(session, account_id)


def test_the_gptproto_client_runs_a_video_seen_the_same_through_v3_and_openai(start_server: ServerFactory) -> None:
    server = start_server()
    key, account_id = customer(server)
    client = GptprotoClient(api_key=key, base_url=server.base_url, timeout=60)
    options = ProviderOptions.from_dict({"options": {"kling": {"parameters": {"guidance_scale": 0.7}},
                                                     "google": {"parameters": {"guidance_scale": 0.1}}}})
    statuses: list[str] = []
    request = UnifiedVideoRequest(
        model="kwaivgi/kling-v2.5", prompt="slowly zoom in", duration=3,
        aspect_ratio=VideoAspectRatio.LANDSCAPE_16_9, frame_images=[frame(IMAGE)], seed=42, provider=options,
    )
    result = client.run("video", request, poll_interval=0.2, timeout=120,
                        on_status=lambda _, status: statuses.append(status))
    assert result.status.value == "completed" and statuses[-1] == "completed"
    assert result.model == SEED_ROUTE and result.native_status == "completed"
    assert result.polling_url == f"/api/v3/tasks/result/{result.id}"
    assert result.created_at <= result.completed_at
    assert result.usage.additional_properties == {"cost": 0.126, "currency": "USD", "video_seconds": 3}
    assert result.timings.additional_properties["inference_ms"] > 0
    with av.open(io.BytesIO(httpx.get(result.unsigned_urls[0]).content)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (1280, 720)
        assert sum(1 for _ in container.decode(stream)) == 3 * 24

    again = client.get(result.id)
    assert again.to_dict() == result.to_dict()
    assert client.get(result.id, kind="image").to_dict() == result.to_dict(), "GET /api/v3/tasks/result/{id}"

    v3 = server.client.get(f"/api/v3/predictions/{result.id}/result", headers={"Authorization": key}).json()["data"]
    assert v3["status"] == "completed" and v3["outputs"] == result.unsigned_urls
    assert (v3["input"]["guidance_scale"], v3["input"]["seed"], v3["input"]["duration"]) == (0.7, 42, 3)
    assert v3["input"]["aspect_ratio"] == "16:9"
    history = server.client.get("/api/v3/predictions", headers={"Authorization": key}).json()["data"]
    assert [item["id"] for item in history["items"]] == [result.id]
    video = openai.OpenAI(api_key=key, base_url=f"{server.base_url}/v1", max_retries=0).videos.retrieve(result.id)
    assert (video.status, video.seconds, video.size) == ("completed", "3", "1280x720")
    assert balance(server, key) == round(10 - 0.126, 6)
    assert_ledger_holds(server, account_id)


def test_a_task_cancelled_through_v3_ends_the_run_and_is_refunded(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    key, account_id = customer(server)
    client = GptprotoClient(api_key=key, base_url=server.base_url)

    def cancel_when_seen(task_id: str, status: str) -> None:
        if status == "pending":
            assert balance(server, key) == round(10 - 5 * 0.070, 6)
            cancelled = server.client.post(f"/api/v3/predictions/{task_id}/cancel", headers={"Authorization": key})
            assert cancelled.status_code == 200, cancelled.text

    request = UnifiedVideoRequest(model="kling/kling-v2.5-turbo-pro", prompt="pan left", frame_images=[frame(IMAGE)])
    with pytest.raises(TaskFailedError) as ended:
        client.run("video", request, poll_interval=0.05, timeout=60, on_status=cancel_when_seen)
    assert (ended.value.status, ended.value.error) == ("cancelled", "cancelled before it started")
    cancelled = client.get(ended.value.task_id)
    assert cancelled.status.value == "cancelled" and cancelled.model == PRO_ROUTE
    assert cancelled.native_status == "cancelled" and cancelled.completed_at is not None
    assert balance(server, key) == 10, "refunded in full"
    assert_ledger_holds(server, account_id)


def test_an_idempotent_submit_with_a_webhook(start_server: ServerFactory, image_url: str) -> None:
    server = start_server(workers=0)
    key, account_id = customer(server)
    body = {"model": "kwaivgi/kling-v2.5-pro", "prompt": "the cat falls asleep", "mode": "image-to-video",
            "frame_images": [{"type": "image_url", "frame_type": "first_frame", "image_url": {"url": image_url}}]}
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "job-9"}
    hook = image_url.rsplit("/", 2)[0] + "/hook"
    first = server.client.post(f"/api/v3/videos?webhook={hook}", json=body, headers=headers)
    again = server.client.post(f"/api/v3/videos?webhook={hook}", json=body, headers=headers)
    assert first.status_code == again.status_code == 202, first.text
    assert first.json()["id"] == again.json()["id"] and first.json()["status"] == "pending"
    assert balance(server, key) == round(10 - 5 * 0.070, 6), "charged once"
    other = server.client.post("/api/v3/videos", json={**body, "prompt": "other"}, headers=headers)
    assert "Idempotency-Key" in assert_unified_error(other, 400)["message"]
    data = server.client.get(f"/api/v3/predictions/{first.json()['id']}/result",
                             headers={"Authorization": key}).json()["data"]
    assert data["input"]["image"] == image_url and data["model"] == PRO_ROUTE
    cancelled = server.client.post(f"/api/v3/predictions/{data['id']}/cancel", headers={"Authorization": key})
    assert cancelled.status_code == 200
    hooks = server.client.get(f"/api/v3/predictions/{data['id']}/webhooks", headers={"Authorization": key})
    assert [item["url"] for item in hooks.json()["data"]["items"]] == [hook]
    assert_ledger_holds(server, account_id)


def refused(server: RunningServer, key: str, body: dict[str, Any], status: int = 400) -> dict[str, Any]:
    response = server.client.post("/api/v3/videos", json=body, headers={"Authorization": key})
    return assert_unified_error(response, status)


def test_refusals_come_in_the_unified_error_shape(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    key, account_id = customer(server, balance="0.30")
    first = [{"type": "image_url", "frame_type": "first_frame", "image_url": {"url": IMAGE}}]
    ok = {"model": "kwaivgi/kling-v2.5", "prompt": "zoom in", "frame_images": first}

    client = GptprotoClient(api_key=key, base_url=server.base_url)
    with pytest.raises(RuntimeError, match="code=400 message=unknown video model: acme/nothing"):
        client.create("video", UnifiedVideoRequest(model="acme/nothing", prompt="x"))
    with pytest.raises(RuntimeError, match="code=401"):
        GptprotoClient(api_key="sk-wrong", base_url=server.base_url).get("0" * 32)

    end_frame = refused(server, key, {**ok, "frame_images": [
        *first, {"type": "image_url", "frame_type": "last_frame", "image_url": {"url": IMAGE}}]})
    assert end_frame["param"] == "frame_images" and PRO_ROUTE in end_frame["message"]
    motion_end_frame = refused(server, key, {**ok, "model": "kling/kling-v2.5-pro", "frame_images": [
        *first, {"type": "image_url", "frame_type": "last_frame", "image_url": {"url": IMAGE}}]})
    assert motion_end_frame["param"] == "frame_images" and "cannot follow an end frame" in motion_end_frame["message"]
    assert refused(server, key, {**ok, "mode": "lip-sync"})["param"] == "mode"
    references = [{"type": "image_url", "image_url": {"url": IMAGE}}]
    assert refused(server, key, {**ok, "frame_images": None, "input_references": references})["param"] == (
        "input_references")
    assert refused(server, key, {**ok, "duration": 20})["param"] == "duration"
    assert refused(server, key, {**ok, "generate_audio": True})["param"] == "generate_audio"
    assert refused(server, key, {**ok, "frame_images": None})["param"] == "frame_images", "motion needs an image"
    blocked = refused(server, key, {**ok, "prompt": "c.h.i.l.d p0rn"})
    assert (blocked["code"], blocked["type"], blocked["param"]) == (503, "content_policy_violation", "prompt")
    assert refused(server, key, {**ok, "duration": 8}, status=403)["type"] == "insufficient_balance"
    assert refused(server, key, {"model": "kwaivgi/kling-v2.5"})["param"] == "prompt"
    assert_unified_error(server.client.post("/api/v3/videos", content=b"[1]", headers={"Authorization": key}), 400)
    assert_unified_error(server.client.get("/api/v3/videos/" + "f" * 32, headers={"Authorization": key}), 404)
    assert_unified_error(server.client.get("/api/v3/tasks/result/x", headers={"Authorization": key}), 404)
    assert_unified_error(server.client.get("/api/v3/tasks/nothing", headers={"Authorization": key}), 404)
    assert balance(server, key) == 0.30, "nothing refused was charged"

    as_reference = server.client.post("/api/v3/videos", headers={"Authorization": key}, json={
        **ok, "frame_images": None, "mode": "image-to-video", "input_references": references})
    assert as_reference.status_code == 202, as_reference.text
    stranger = server.other_key()
    assert_unified_error(server.client.get(f"/api/v3/videos/{as_reference.json()['id']}",
                                           headers={"Authorization": stranger}), 404)
    assert balance(server, key) == round(0.30 - 5 * 0.042, 6)
    assert_ledger_holds(server, account_id)
