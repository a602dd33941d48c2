"""Webhooks as WaveSpeed documents them: the prediction object POSTed when a job ends, signed with the key's
secret, retried, kept across a kill -9, refused at submit for private addresses."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes
from tests.support.process import ServerProcess, free_port
from tests.support.webhook_receiver import WebhookReceiver, wavespeed_signature_is_valid

IMAGE = base64.b64encode(image_bytes(640, 360)).decode()
BODY = {"prompt": "zoom in", "image": IMAGE, "duration": 3}
FAST_RETRIES = {"webhook_retry_scale": 0.01}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver()
    yield found
    found.close()


def secret_of(client: httpx.Client, key: str | None = None) -> str:
    headers = {"Authorization": key} if key else None
    secret = client.get("/api/v3/webhook/secret", headers=headers).json()["data"]["secret"]
    assert secret.startswith("whsec_")
    return str(secret)


def submit(client: httpx.Client, webhook: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = client.post(f"/api/v3/{SEED_ROUTE}", params={"webhook": webhook}, json=body or BODY)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def test_a_completed_job_is_posted_signed_after_the_receiver_fails_twice(
    start_server: ServerFactory, receiver: WebhookReceiver
) -> None:
    server = start_server(**FAST_RETRIES)
    secret = secret_of(server.client)
    receiver.statuses = [500, 503]
    prediction = submit(server.client, receiver.url())
    arrived = receiver.wait_for(3)
    assert [request.path for request in arrived] == ["/hook"] * 3
    ids = {request.headers["webhook-id"] for request in arrived}
    assert len(ids) == 1, "every retry is the same delivery"
    assert all(request.body == arrived[0].body for request in arrived), "and the same bytes"
    for request in arrived:
        assert wavespeed_signature_is_valid(secret, request.headers, request.body)
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 120
        assert request.headers["content-type"] == "application/json"
    sent = json.loads(arrived[-1].body)
    result = server.client.get(f"/api/v3/predictions/{prediction['id']}/result").json()["data"]
    assert sent == result, "the bare prediction object, as the result endpoint gives it"
    assert sent["status"] == "completed" and httpx.get(sent["outputs"][0]).status_code == 200

    log = server.client.get(f"/api/v3/predictions/{prediction['id']}/webhooks").json()["data"]["items"]
    assert len(log) == 1 and log[0]["status"] == "delivered"
    assert [attempt["status_code"] for attempt in log[0]["attempts"]] == [500, 503, 200]
    assert not wavespeed_signature_is_valid("whsec_" + "x" * 43, arrived[0].headers, arrived[0].body)


def test_failed_and_cancelled_jobs_are_posted_and_rotation_changes_the_signing_secret(
    start_server: ServerFactory, receiver: WebhookReceiver
) -> None:
    server = start_server(workers=0, **FAST_RETRIES)
    old = secret_of(server.client)
    first = submit(server.client, receiver.url("/first"))
    server.client.post(f"/api/v3/predictions/{first['id']}/cancel")
    cancelled = receiver.wait_for(1)[0]
    assert json.loads(cancelled.body)["status"] == "cancelled"
    assert wavespeed_signature_is_valid(old, cancelled.headers, cancelled.body)

    new = server.client.post("/api/v3/webhook/secret/rotate").json()["data"]["secret"]
    assert new != old and secret_of(server.client) == new
    second = submit(server.client, receiver.url("/second"))
    server.client.post(f"/api/v3/predictions/{second['id']}/cancel")
    rotated = receiver.wait_for(2)[1]
    assert wavespeed_signature_is_valid(new, rotated.headers, rotated.body)
    assert not wavespeed_signature_is_valid(old, rotated.headers, rotated.body)

    admin = server.runtime.keys.create("admin", role="admin").secret
    key_id = server.runtime.keys.authenticate(server.key).id
    by_admin = server.client.post(f"/admin/keys/{key_id}/webhook-secret/rotate", headers={"Authorization": admin})
    assert by_admin.status_code == 200 and by_admin.json()["data"]["secret"] == secret_of(server.client) != new


def test_an_unencoded_webhook_url_with_its_own_query_is_taken_whole(
    start_server: ServerFactory, receiver: WebhookReceiver
) -> None:
    server = start_server(workers=0, **FAST_RETRIES)
    url = receiver.url("/cb") + "?a=1&b=2"
    answer = server.client.post(f"/api/v3/{SEED_ROUTE}?webhook={url}", json=BODY)
    assert answer.status_code == 200, answer.text
    server.client.post(f"/api/v3/predictions/{answer.json()['data']['id']}/cancel")
    assert receiver.wait_for(1)[0].path == "/cb?a=1&b=2"


def test_a_receiver_that_never_answers_holds_no_worker(start_server: ServerFactory) -> None:
    slow = WebhookReceiver(delay_seconds=30)
    try:
        server = start_server(webhook_timeout_seconds=1.0, **FAST_RETRIES)
        first = submit(server.client, slow.url())
        second = submit(server.client, slow.url())
        started = time.monotonic()
        for prediction in (first, second):
            assert server.wait(prediction["id"])["status"] == "completed"
        assert time.monotonic() - started < 30, "both jobs ran while the receiver hung"
        slow.wait_for(2)
        log = server.client.get(f"/api/v3/predictions/{first['id']}/webhooks").json()["data"]["items"][0]
        deadline = time.monotonic() + 10
        while not log["attempts"] and time.monotonic() < deadline:
            time.sleep(0.1)
            log = server.client.get(f"/api/v3/predictions/{first['id']}/webhooks").json()["data"]["items"][0]
        assert log["attempts"][0]["status_code"] is None and "no answer within 1 s" in log["attempts"][0]["error"]
        assert log["status"] == "pending", "a timeout is retried"
    finally:
        slow.close()


def test_a_webhook_to_a_private_address_is_refused_at_submit(start_server: ServerFactory) -> None:
    server = start_server(workers=0, allow_private_urls=False)
    # Judged before any connection: nothing is sent to these addresses.
    for private in ("http://127.0.0.1:8080/hook", "http://10.0.0.7/hook", "http://169.254.169.254/latest"):
        answer = server.client.post(f"/api/v3/{SEED_ROUTE}", params={"webhook": private}, json=BODY)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["param"] == "webhook"
    for malformed in ("ftp://example.com/hook", "not a url"):
        answer = server.client.post(f"/api/v3/{SEED_ROUTE}", params={"webhook": malformed}, json=BODY)
        assert answer.status_code == 400 and answer.json()["error"]["param"] == "webhook"


def test_a_webhook_is_delivered_after_a_kill_9_and_restart(tmp_path: Path) -> None:
    receiver = WebhookReceiver(statuses=[503] * 1000)
    env = {"REELSERVE_ALLOW_PRIVATE_URLS": "true", "REELSERVE_WEBHOOK_RETRY_SCALE": "0.01",
           "REELSERVE_JOB_LEASE_SECONDS": "3"}
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir, free_port(), env=env)
    try:
        key = server.first_key()
        assert key is not None
        client = httpx.Client(base_url=server.base_url, headers={"Authorization": key}, timeout=60)
        secret = secret_of(client)
        prediction = submit(client, receiver.url())
        receiver.wait_for(2, timeout=60)
        server.kill()
        receiver.statuses = []
        restarted = ServerProcess(data_dir, free_port(), env=env)
        try:
            deadline = time.monotonic() + 60
            while True:
                log = httpx.get(f"{restarted.base_url}/api/v3/predictions/{prediction['id']}/webhooks",
                                headers={"Authorization": key}).json()["data"]["items"][0]
                if log["status"] == "delivered":
                    break
                assert time.monotonic() < deadline, log
                time.sleep(0.1)
            last = receiver.received[-1]
            assert wavespeed_signature_is_valid(secret, last.headers, last.body)
            assert json.loads(last.body)["id"] == prediction["id"]
            assert log["attempts"][-1]["status_code"] == 200
        finally:
            restarted.stop()
    finally:
        server.stop()
        receiver.close()
