"""At SIGTERM, requests waiting on a job (sync mode, event streams) end at once with the answer that says where to
poll, instead of holding the shutdown until their job ends; the job itself stays queued for the next start."""

from __future__ import annotations

import base64
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import SEED_ROUTE
from tests.support.images import image_bytes
from tests.support.process import ServerProcess, free_port

IMAGE = base64.b64encode(image_bytes(640, 360)).decode()


def test_sigterm_ends_sync_waits_and_streams_with_the_poll_answer(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir, free_port(), workers=0)
    key = server.first_key()
    assert key is not None
    headers = {"Authorization": key}
    answers: dict[str, Any] = {}

    def wait_in_sync_mode() -> None:
        answer = httpx.post(f"{server.base_url}/api/v3/{SEED_ROUTE}", headers=headers, timeout=120,
                            json={"prompt": "zoom", "image": IMAGE, "enable_sync_mode": True})
        answers["sync"] = (answer.status_code, answer.json())

    def follow_a_stream(prediction_id: str) -> None:
        events = []
        with httpx.stream("GET", f"{server.base_url}/api/v3/predictions/{prediction_id}/stream", headers=headers,
                          timeout=120) as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
        answers["stream"] = events

    followed = httpx.post(f"{server.base_url}/api/v3/{SEED_ROUTE}", headers=headers,
                          json={"prompt": "pan", "image": IMAGE}).json()["data"]["id"]
    waiters = [threading.Thread(target=wait_in_sync_mode), threading.Thread(target=follow_a_stream, args=(followed,))]
    for waiter in waiters:
        waiter.start()
    time.sleep(1.0)
    stopping = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(30)
    took = time.monotonic() - stopping
    for waiter in waiters:
        waiter.join(10)
    assert took < 5, f"the shutdown took {took:.1f} s"
    status, sync = answers["sync"]
    assert status == 200
    assert (sync["data"]["status"], sync["data"]["error"], sync["data"]["code"]) == (
        "processing", "Sync mode timed out", 5004,
    )
    assert [event["status"] for event in answers["stream"]] == ["created"], "the stream ended at the shutdown"
    server.stop()

    restarted = ServerProcess(data_dir, free_port(), workers=1)
    try:
        for prediction_id in (sync["data"]["id"], followed):
            deadline = time.monotonic() + 60
            while True:
                found = httpx.get(f"{restarted.base_url}/api/v3/predictions/{prediction_id}/result",
                                  headers=headers).json()["data"]
                if found["status"] == "completed":
                    break
                assert time.monotonic() < deadline, found
                time.sleep(0.2)
    finally:
        restarted.stop()
