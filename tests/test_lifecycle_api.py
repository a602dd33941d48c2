"""Cancel, delete, run-time limits, queue positions, sync mode and base64 outputs, through the HTTP API on SQLite
and PostgreSQL, with the balance equal to the sum of the ledger after every path."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path
from typing import Any

import av
import httpx
from sqlalchemy import update

from reelserve.store import accounts as account_store
from reelserve.store.tables import Prediction, utcnow
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes
from tests.support.server import RunningServer

IMAGE = base64.b64encode(image_bytes(640, 360)).decode()
PRICE_5S = 0.21


def body(duration: int = 5, **extra: Any) -> dict[str, Any]:
    return {"prompt": "slowly zoom in", "image": IMAGE, "duration": duration, **extra}


def customer(server: RunningServer, balance: str = "10") -> tuple[str, str]:
    created = server.runtime.keys.create("customer", balance_usd=balance)
    return created.secret, created.info.account_id


def get(server: RunningServer, prediction_id: str, key: str) -> httpx.Response:
    return server.client.get(f"/api/v3/predictions/{prediction_id}/result", headers={"Authorization": key})


def wait_for_status(server: RunningServer, prediction_id: str, key: str, statuses: set[str],
                    timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = get(server, prediction_id, key).json()["data"]
        if data["status"] in statuses:
            return data
        assert time.monotonic() < deadline, f"{prediction_id} still {data['status']}"
        time.sleep(0.05)


def balance(server: RunningServer, key: str) -> float:
    return server.client.get("/api/v3/balance", headers={"Authorization": key}).json()["data"]["balance"]


def assert_ledger_holds(server: RunningServer, account_id: str) -> None:
    with server.runtime.database.session() as session:
        account = account_store.get(session, account_id)
        assert account is not None and account.balance_micros == account_store.ledger_sum(session, account_id)


def test_cancel_a_waiting_job_refunds_it_at_once(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    key, account_id = customer(server)
    first, second = (server.submit(SEED_ROUTE, body(), key=key).json()["data"] for _ in range(2))
    assert [get(server, item["id"], key).json()["data"]["queue_position"] for item in (first, second)] == [1, 2]
    assert balance(server, key) == round(10 - 2 * PRICE_5S, 6)

    cancelled = server.client.post(f"/api/v3/predictions/{first['id']}/cancel", headers={"Authorization": key})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["status"] == "cancelled"
    assert cancelled.json()["data"]["error"] == "cancelled before it started"
    assert balance(server, key) == round(10 - PRICE_5S, 6), "refunded in full"
    assert get(server, second["id"], key).json()["data"]["queue_position"] == 1, "the next one moved up"

    again = server.client.post(f"/api/v3/predictions/{first['id']}/cancel", headers={"Authorization": key})
    assert again.status_code == 400 and "already ended with status cancelled" in again.json()["message"]
    assert balance(server, key) == round(10 - PRICE_5S, 6), "refunded once"
    other = server.other_key()
    assert server.client.post(f"/api/v3/predictions/{second['id']}/cancel",
                              headers={"Authorization": other}).status_code == 404
    assert_ledger_holds(server, account_id)


def test_cancel_a_running_motion_job_stops_it_within_two_seconds(start_server: ServerFactory) -> None:
    server = start_server(workers=1)
    key, account_id = customer(server)
    running = server.submit(SEED_ROUTE, body(duration=15), key=key).json()["data"]["id"]
    following = server.submit(SEED_ROUTE, body(duration=3), key=key).json()["data"]["id"]
    data = wait_for_status(server, running, key, {"processing"})
    while data["progress"] < 3:
        data = get(server, running, key).json()["data"]
    asked = time.monotonic()
    answer = server.client.post(f"/api/v3/predictions/{running}/cancel", headers={"Authorization": key})
    assert answer.status_code == 200 and answer.json()["data"]["status"] == "processing"
    ended = wait_for_status(server, running, key, {"cancelled", "completed"})
    assert ended["status"] == "cancelled" and time.monotonic() - asked < 2.0
    assert ended["outputs"] == [] and ended["error"] == "cancelled while it was running"
    assert wait_for_status(server, following, key, {"completed"})["outputs"], "the worker took the next job"
    assert balance(server, key) == round(10 - 0.126, 6)
    assert not list((server.runtime.storage.root / "outputs").glob(f"{running}/*")), "nothing of it is kept"
    assert_ledger_holds(server, account_id)


def test_delete_removes_the_prediction_and_its_files_and_keeps_the_ledger(start_server: ServerFactory) -> None:
    server = start_server(workers=1)
    key, account_id = customer(server)
    auth = {"Authorization": key}
    done = server.submit(SEED_ROUTE, body(duration=3, enable_sync_mode=True), key=key).json()["data"]
    assert done["status"] == "completed"
    video_link, poster_link = done["outputs"][0], done["posters"][0]
    assert httpx.get(video_link).status_code == 200 and httpx.get(poster_link).headers["content-type"] == "image/jpeg"
    stored = list((server.runtime.storage.root / "inputs").glob(f"{done['id']}-*"))
    assert stored

    answer = server.client.delete(f"/api/v3/predictions/{done['id']}", headers=auth)
    assert answer.json() == {"code": 200, "message": "success", "data": {"id": done["id"], "status": "deleted"}}
    assert get(server, done["id"], key).status_code == 404
    assert httpx.get(video_link).status_code == 404 and httpx.get(poster_link).status_code == 404
    assert not any(path.exists() for path in stored)
    assert server.client.delete(f"/api/v3/predictions/{done['id']}", headers=auth).status_code == 404
    billings = server.client.get("/api/v3/account/billings", headers=auth).json()["data"]["items"]
    assert [item["prediction_id"] for item in billings if item["type"] == "charge"] == [done["id"]]
    assert_ledger_holds(server, account_id)



def test_deleting_several_deletes_the_callers_and_refunds_those_not_ended(start_server: ServerFactory) -> None:
    waiting_server = start_server(workers=0)
    other_key, other_account = customer(waiting_server)
    mine = [waiting_server.submit(SEED_ROUTE, body(), key=other_key).json()["data"]["id"] for _ in range(2)]
    theirs = waiting_server.submit(SEED_ROUTE, body()).json()["data"]["id"]
    many = waiting_server.client.post("/api/v3/predictions/delete", json={"ids": [*mine, theirs, "0" * 32]},
                                      headers={"Authorization": other_key})
    assert many.json()["data"] == {"deleted_count": 2}
    assert get(waiting_server, theirs, waiting_server.key).json()["data"]["status"] == "created", "not the caller's"
    assert balance(waiting_server, other_key) == 10.0, "deleting a job that had not ended refunds it"
    assert_ledger_holds(waiting_server, other_account)


def test_a_job_past_its_run_time_limit_ends_timeout_refunded(start_server: ServerFactory, tmp_path: Path) -> None:
    config = tmp_path / "reelserve.toml"
    config.write_text(f'[routes."{SEED_ROUTE}"]\nengine = "motion"\nmax_run_seconds = 1\n')
    server = start_server(workers=1, config=config)
    key, account_id = customer(server)
    prediction_id = server.submit(SEED_ROUTE, body(duration=15), key=key).json()["data"]["id"]
    ended = wait_for_status(server, prediction_id, key, {"timeout", "completed", "failed"})
    assert ended["status"] == "timeout", ended
    assert ended["error"] == "the job ran longer than its limit of 1 s and was stopped"
    assert balance(server, key) == 10.0
    assert_ledger_holds(server, account_id)


def test_sync_mode_that_runs_out_says_5004_and_where_to_poll(start_server: ServerFactory) -> None:
    server = start_server(workers=0, sync_timeout_seconds=0.5)
    answer = server.submit(SEED_ROUTE, body(enable_sync_mode=True)).json()
    data = answer["data"]
    assert answer["code"] == 200
    assert (data["status"], data["error"], data["code"]) == ("processing", "Sync mode timed out", 5004)
    assert data["urls"]["get"].endswith(f"/api/v3/predictions/{data['id']}/result")


def test_base64_outputs_are_the_mp4_itself(start_server: ServerFactory) -> None:
    server = start_server(workers=1)
    synced = server.submit(SEED_ROUTE, body(duration=3, enable_sync_mode=True, enable_base64_output=True)).json()
    outputs = synced["data"]["outputs"]
    assert len(outputs) == 1 and not outputs[0].startswith(("data:", "http"))
    with av.open(io.BytesIO(base64.b64decode(outputs[0]))) as container:
        assert container.streams.video[0].frames == 72
    polled = get(server, synced["data"]["id"], server.key).json()["data"]["outputs"]
    assert polled == outputs

    refused = server.client.post(f"/api/v3/{SEED_ROUTE}?webhook=https://example.com/hook",
                                 json=body(enable_base64_output=True))
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        "webhook callback does not support base64 output, please use the normal API to use base64 output"
    )


def test_outputs_past_retention_are_removed_and_the_prediction_says_so(start_server: ServerFactory) -> None:
    server = start_server(workers=1, output_retention_seconds=3600)
    done = server.submit(SEED_ROUTE, body(duration=3, enable_sync_mode=True)).json()["data"]
    kept = server.submit(SEED_ROUTE, body(duration=3, enable_sync_mode=True)).json()["data"]
    with server.runtime.database.write() as connection:
        connection.execute(
            update(Prediction).where(Prediction.id == done["id"]).values(completed_at=utcnow().replace(year=2025))
        )
    server.runtime.maintenance.run_once()
    expired = get(server, done["id"], server.key).json()["data"]
    assert expired["status"] == "completed" and expired["outputs"] == [] and expired["outputs_expired_at"]
    assert "retention" in expired["error"]
    assert httpx.get(done["outputs"][0]).status_code == 404
    assert not list((server.runtime.storage.root / "inputs").glob(f"{done['id']}-*"))
    assert httpx.get(get(server, kept["id"], server.key).json()["data"]["outputs"][0]).status_code == 200


def test_a_waiting_job_says_where_it_is_in_the_queue(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    ids = [server.submit(SEED_ROUTE, body()).json()["data"]["id"] for _ in range(3)]
    places = [get(server, prediction_id, server.key).json()["data"]["queue_position"] for prediction_id in ids]
    assert places == [1, 2, 3]
