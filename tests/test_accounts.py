"""Balances, prices, permissions and limits, driven through the HTTP API on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from reelserve.jobs.status import IN_FLIGHT
from reelserve.service.keys import KeyLimits
from reelserve.store import accounts as account_store
from reelserve.store.tables import LedgerEntry, Prediction
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes
from tests.support.lifecycle import lose_worker, take_job
from tests.support.server import RunningServer

V30 = "kwaivgi/kling-v3.0-std/image-to-video"
SMALL_IMAGE = base64.b64encode(image_bytes(320, 320)).decode()
PRICE_3S = 0.126  # kling-v2.5-turbo-std: $0.042 per second


def body(duration: int = 3, **extra: Any) -> dict[str, Any]:
    return {"prompt": "zoom in", "image": SMALL_IMAGE, "duration": duration, **extra}


def new_key(server: RunningServer, balance: str, **limits: Any) -> tuple[str, str, str]:
    created = server.runtime.keys.create(
        "customer", balance_usd=balance, limits=KeyLimits(**{"rpm": 10_000, "max_concurrency": 1_000, **limits})
    )
    return created.secret, created.info.id, created.info.account_id


def balance_of(server: RunningServer, key: str) -> float:
    response = server.client.get("/api/v3/balance", headers={"Authorization": key})
    assert response.status_code == 200, response.text
    return response.json()["data"]["balance"]


def assert_ledger_matches_balance(server: RunningServer, account_id: str) -> None:
    with server.runtime.database.session() as session:
        account = account_store.get(session, account_id)
        assert account is not None
        assert account.balance_micros == account_store.ledger_sum(session, account_id)
        assert account.balance_micros >= 0


def test_pricing_balance_and_billings(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    key, _, account_id = new_key(server, "2")
    auth = {"Authorization": key}
    quote = server.client.post("/api/v3/model/pricing", headers=auth,
                               json={"model_id": SEED_ROUTE, "inputs": {"duration": "7"}}).json()["data"]
    assert quote == {"model_id": SEED_ROUTE, "price": 0.294, "unit_price": 0.042, "unit": "second",
                     "seconds": 7, "currency": "USD"}
    assert balance_of(server, key) == 2.0, "pricing runs nothing and charges nothing"

    assert server.submit(SEED_ROUTE, body(), key=key).status_code == 200
    assert server.submit(SEED_ROUTE, body(duration=5), key=key).status_code == 200
    assert balance_of(server, key) == pytest.approx(2 - 0.126 - 0.21)

    page = server.client.get("/api/v3/account/billings?page=1&page_size=2", headers=auth).json()["data"]
    assert page["total"] == 3 and page["page_size"] == 2
    assert [item["type"] for item in page["items"]] == ["charge", "charge"]
    assert [item["amount"] for item in page["items"]] == [-0.21, -0.126], "newest first"
    last = server.client.get("/api/v3/account/billings?page=2&page_size=2", headers=auth).json()["data"]
    assert [(item["type"], item["amount"]) for item in last["items"]] == [("topup", 2.0)]
    assert_ledger_matches_balance(server, account_id)

    bad = server.client.post("/api/v3/model/pricing", headers=auth, json={"model_id": SEED_ROUTE,
                                                                         "inputs": {"duration": 99}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "duration"
    assert server.client.post("/api/v3/model/pricing", headers=auth,
                              json={"model_id": "nope", "inputs": {}}).status_code == 404


def test_insufficient_balance_creates_nothing(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    key, _, account_id = new_key(server, "0.2")
    response = server.submit(SEED_ROUTE, body(duration=5), key=key)
    assert response.status_code == 403
    envelope = response.json()
    assert envelope["error"]["type"] == "insufficient_balance"
    assert "$0.21" in envelope["message"] and "$0.20" in envelope["message"]
    with server.runtime.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Prediction)) == 0
        entries = session.scalars(select(LedgerEntry).where(LedgerEntry.account_id == account_id)).all()
        assert [entry.kind for entry in entries] == ["topup"]
    assert not list((server.runtime.storage.root / "inputs").glob("*")), "no input file is left behind"
    assert balance_of(server, key) == 0.2


def test_routes_outside_a_keys_list_are_forbidden(start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server(workers=0)
    key, _, _ = new_key(server, "5", models=[V30])
    response = server.submit(SEED_ROUTE, body(), key=key)
    assert response.status_code == 403 and response.json()["error"]["type"] == "permission_error"
    assert server.submit(V30, body(), key=key).status_code == 200


def test_requests_per_minute(start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server(workers=0)
    key, _, _ = new_key(server, "5", rpm=3)
    answers = [server.submit(SEED_ROUTE, body(), key=key) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert all(a.headers["X-RateLimit-Limit"] == "3" for a in answers)
    refused = answers[3]
    assert refused.json()["error"]["type"] == "rate_limit_exceeded" and refused.json()["code"] == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert int(refused.headers["X-RateLimit-Reset"]) >= int(time.time())
    assert balance_of(server, key) == pytest.approx(5 - 3 * PRICE_3S), "a refused request costs nothing"


def assert_in_flight_is_counted(server: RunningServer, key_id: str, expected: int) -> None:
    with server.runtime.database.write() as connection:
        assert account_store.in_flight(connection, key_id) == expected
        assert account_store.counted_in_flight(connection, key_id, IN_FLIGHT) == expected


def test_jobs_in_flight_cap(start_server: ServerFactory) -> None:
    server = start_server(workers=0, job_max_attempts=2)
    key, key_id, _ = new_key(server, "5", max_concurrency=2)
    first, second = (server.submit(SEED_ROUTE, body(), key=key) for _ in range(2))
    assert first.status_code == second.status_code == 200
    refused = server.submit(SEED_ROUTE, body(), key=key)
    assert refused.status_code == 429 and "2 jobs in flight; the limit is 2" in refused.json()["message"]
    assert refused.headers["Retry-After"]
    assert_in_flight_is_counted(server, key_id, 2)

    claimed = take_job(server.runtime, "a-worker-that-dies")
    assert claimed is not None
    lose_worker(server.runtime, claimed.id)
    assert server.runtime.lifecycle.recover_lost()["requeued"] == [claimed.id]
    assert server.submit(SEED_ROUTE, body(), key=key).status_code == 429, "a requeued job is still in flight"
    assert_in_flight_is_counted(server, key_id, 2)

    assert take_job(server.runtime, "a-worker-that-dies-again").id == claimed.id, "a retried job goes first"
    lose_worker(server.runtime, claimed.id)
    assert server.runtime.lifecycle.recover_lost()["failed"] == [claimed.id]
    assert_in_flight_is_counted(server, key_id, 1)
    third = server.submit(SEED_ROUTE, body(), key=key)
    assert third.status_code == 200

    worker = start_server(workers=1)
    for accepted in (second, third):
        assert worker.wait(accepted.json()["data"]["id"], key=key)["status"] == "completed"
    assert_in_flight_is_counted(worker, key_id, 0)
    assert [server.submit(SEED_ROUTE, body(), key=key).status_code for _ in range(3)] == [200, 200, 429]


def test_failed_jobs_are_refunded_once(start_server: ServerFactory) -> None:
    api_only = start_server(workers=0)
    key, _, account_id = new_key(api_only, "1")
    prediction_id = api_only.submit(SEED_ROUTE, body(), key=key).json()["data"]["id"]
    (api_only.runtime.storage.root / "inputs" / f"{prediction_id}-image").unlink()
    worker = start_server(workers=1)
    assert worker.wait(prediction_id, key=key)["status"] == "failed"
    assert balance_of(worker, key) == 1.0
    with worker.runtime.database.session() as session:
        prediction = session.get(Prediction, prediction_id)
        assert prediction is not None
        account_store.refund_once(session, prediction.id, prediction.account_id, prediction.price_micros, "again")
        kinds = [e.kind for e in session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
                 if e.account_id == account_id]
    assert kinds == ["topup", "charge", "refund"]
    assert balance_of(worker, key) == 1.0
    assert_ledger_matches_balance(worker, account_id)


def test_jobs_abandoned_too_often_are_refunded(start_server: ServerFactory) -> None:
    server = start_server(workers=0, job_max_attempts=1)
    key, _, account_id = new_key(server, "1")
    prediction_id = server.submit(SEED_ROUTE, body(), key=key).json()["data"]["id"]
    claimed = take_job(server.runtime, "a-worker-that-dies")
    assert claimed is not None and claimed.id == prediction_id
    lose_worker(server.runtime, prediction_id)
    assert server.runtime.lifecycle.recover_lost()["failed"] == [prediction_id]
    assert server.runtime.lifecycle.recover_lost() == {"requeued": [], "failed": [], "cancelled": []}
    assert balance_of(server, key) == 1.0
    assert_ledger_matches_balance(server, account_id)


def test_concurrent_submits_never_overdraw(start_server: ServerFactory) -> None:
    """200 submits at once from a key whose balance covers exactly 50 jobs."""
    server = start_server(workers=0)
    key, key_id, account_id = new_key(server, f"{50 * PRICE_3S:.3f}")

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=120, limits=limits,
                                     headers={"Authorization": key}) as client:
            return await asyncio.gather(
                *(client.post(f"/api/v3/{SEED_ROUTE}", json=body()) for _ in range(200))
            )

    answers = asyncio.run(burst())
    codes = sorted(answer.status_code for answer in answers)
    assert codes.count(200) == 50 and codes.count(403) == 150, codes
    assert {a.json()["error"]["type"] for a in answers if a.status_code == 403} == {"insufficient_balance"}
    assert balance_of(server, key) == 0
    with server.runtime.database.session() as session:
        assert session.scalar(select(func.count()).where(Prediction.key_id == key_id)) == 50
        charges = session.scalar(
            select(func.count()).where(LedgerEntry.account_id == account_id, LedgerEntry.kind == "charge")
        )
        assert charges == 50
    assert_ledger_matches_balance(server, account_id)


def test_admin_api(start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server(workers=0)
    admin = server.runtime.keys.create("ops", role="admin").secret
    user_key, user_id, _ = new_key(server, "1")
    forbidden = server.client.get("/admin/keys", headers={"Authorization": user_key})
    assert forbidden.status_code == 403 and forbidden.json()["error"]["type"] == "permission_error"
    assert httpx.get(server.base_url + "/admin/keys").status_code == 401

    auth = {"Authorization": admin}
    made = server.client.post("/admin/keys", headers=auth, json={"name": "bob", "balance": "3.5", "rpm": 7,
                                                                 "max_concurrency": 2, "models": [V30]})
    assert made.status_code == 200, made.text
    bob = made.json()["data"]
    assert bob["key"].startswith("sk-") and (bob["rpm"], bob["max_concurrency"], bob["models"]) == (7, 2, [V30])
    topped = server.client.post(f"/admin/keys/{bob['id']}/topup", headers=auth, json={"amount": 1.25})
    assert topped.json()["data"]["balance"] == 4.75
    assert server.submit(V30, body(), key=bob["key"]).status_code == 200
    shown = server.client.get(f"/admin/keys/{bob['id']}", headers=auth).json()["data"]
    assert shown["balance"] == pytest.approx(4.75 - PRICE_3S * 2) and shown["usage"] == {"created": 1}
    assert {k["id"] for k in server.client.get("/admin/keys", headers=auth).json()["data"]} >= {user_id, bob["id"]}
    bad = server.client.post(f"/admin/keys/{bob['id']}/topup", headers=auth, json={"amount": -1})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "amount"
    unknown = server.client.post("/admin/keys", headers=auth, json={"name": "x", "models": ["nope"]})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "models"
    assert server.client.post(f"/admin/keys/{bob['id']}/revoke", headers=auth).status_code == 200
    assert server.submit(V30, body(), key=bob["key"]).status_code == 401
    assert server.client.get("/admin/keys/key_nope", headers=auth).status_code == 404


REDIS_URL = "redis://127.0.0.1:6379/0"


def require_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is needed for this test and is not reachable at {REDIS_URL}: {exc}", pytrace=False)


def test_api_processes_share_rate_limits_through_redis(start_sqlite_server: ServerFactory) -> None:
    require_redis()
    first = start_sqlite_server(workers=0, rate_limit_storage=REDIS_URL)
    second = start_sqlite_server(workers=0, rate_limit_storage=REDIS_URL)
    key, _, _ = new_key(first, "5", rpm=3)
    codes = [server.submit(SEED_ROUTE, body(), key=key).status_code for server in (first, second, first, second)]
    assert codes == [200, 200, 200, 429]
