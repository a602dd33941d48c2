"""A job accepted before a crash still ends after the next start; none stays in flight for ever."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.conftest import SEED_ROUTE
from tests.support.process import ServerProcess, free_port

ENV = {"REELSERVE_ALLOW_PRIVATE_URLS": "true", "REELSERVE_JOB_LEASE_SECONDS": "2",
       "REELSERVE_WORKER_POLL_SECONDS": "0.2"}


@pytest.fixture
def processes() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for process in started:
        process.stop()


def poll(base_url: str, key: str, prediction_id: str) -> dict[str, Any]:
    response = httpx.get(f"{base_url}/api/v3/predictions/{prediction_id}/result",
                         headers={"Authorization": key}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def wait_for(base_url: str, key: str, prediction_id: str, statuses: set[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = poll(base_url, key, prediction_id)
        if data["status"] in statuses:
            return data
        time.sleep(0.05)
    raise AssertionError(f"{prediction_id} never reached {statuses}: {data}")


def start(processes: list[ServerProcess], data_dir: Path, **env: str) -> ServerProcess:
    process = ServerProcess(data_dir, free_port(), env={**ENV, **env})
    processes.append(process)
    return process


def submit_long_job(server: ServerProcess, key: str, image_url: str) -> str:
    response = httpx.post(
        f"{server.base_url}/api/v3/{SEED_ROUTE}", headers={"Authorization": key}, timeout=30,
        json={"prompt": "slow zoom out", "image": image_url, "duration": 15},
    )
    assert response.status_code == 200, response.text
    prediction_id = response.json()["data"]["id"]
    wait_for(server.base_url, key, prediction_id, {"processing"}, timeout=30)
    return prediction_id


def test_job_survives_a_crash_mid_generation(
    processes: list[ServerProcess], tmp_path: Path, image_url: str
) -> None:
    data_dir = tmp_path / "data"
    first = start(processes, data_dir)
    key = first.first_key()
    assert key, f"first start prints a ready-to-use key:\n{first.output()}"
    prediction_id = submit_long_job(first, key, image_url)
    first.kill()

    second = start(processes, data_dir)
    assert second.first_key() is None, "a key is made only on the first start"
    result = wait_for(second.base_url, key, prediction_id, {"completed", "failed"}, timeout=180)
    assert result["status"] == "completed", result
    video = httpx.get(result["outputs"][0], timeout=30)
    assert video.status_code == 200
    path = tmp_path / "out.mp4"
    path.write_bytes(video.content)
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 15 * 24


def test_a_job_that_keeps_crashing_its_worker_ends_failed(
    processes: list[ServerProcess], tmp_path: Path, image_url: str
) -> None:
    data_dir = tmp_path / "data"
    first = start(processes, data_dir, REELSERVE_JOB_MAX_ATTEMPTS="1")
    key = first.first_key()
    assert key
    prediction_id = submit_long_job(first, key, image_url)
    first.kill()

    second = start(processes, data_dir, REELSERVE_JOB_MAX_ATTEMPTS="1")
    result = wait_for(second.base_url, key, prediction_id, {"completed", "failed"}, timeout=60)
    assert result["status"] == "failed"
    assert "stopped 1 times" in result["error"] and "giving up" in result["error"]


def test_a_charged_job_runs_after_the_api_process_dies(
    processes: list[ServerProcess], tmp_path: Path, image_url: str
) -> None:
    """The charge and the job are one transaction: once the API answers, the job is in the queue."""
    data_dir = tmp_path / "data"
    api_only = ServerProcess(data_dir, free_port(), env=ENV, workers=0)
    processes.append(api_only)
    key = api_only.first_key()
    assert key
    headers = {"Authorization": key}
    response = httpx.post(f"{api_only.base_url}/api/v3/{SEED_ROUTE}", headers=headers, timeout=30,
                          json={"prompt": "pan right", "image": image_url, "duration": 3})
    assert response.status_code == 200, response.text
    prediction_id = response.json()["data"]["id"]
    balance = httpx.get(f"{api_only.base_url}/api/v3/balance", headers=headers).json()["data"]["balance"]
    assert balance == pytest.approx(100 - 0.126)
    api_only.kill()

    worker = start(processes, data_dir)
    result = wait_for(worker.base_url, key, prediction_id, {"completed", "failed"}, timeout=120)
    assert result["status"] == "completed", result
    after = httpx.get(f"{worker.base_url}/api/v3/balance", headers=headers).json()["data"]["balance"]
    assert after == balance, "charged once, not refunded, not charged again"
