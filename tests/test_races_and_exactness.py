"""Exactness and the answers around races: multi_prompt durations compared exactly with a minimum segment
length, /healthz that neither writes nor waits for SQLite's write lock, and rate headers on every answer to a
counted request, the in-flight cap's 429 included."""

from __future__ import annotations

import base64
import sqlite3
import time
from typing import Any

import httpx
import pytest

from reelserve.service.keys import KeyLimits
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.hostile import assert_error_envelope
from tests.support.images import image_bytes
from tests.support.server import RunningServer

V30 = "kwaivgi/kling-v3.0-std/image-to-video"
IMAGE = base64.b64encode(image_bytes(320, 320)).decode()
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def with_segments(duration: int, *seconds: str) -> dict[str, Any]:
    return {"prompt": "p", "image": IMAGE, "duration": duration,
            "multi_prompt": [{"index": i, "prompt": f"shot {i}", "duration": s} for i, s in enumerate(seconds, 1)]}


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [(5, ("2.5", "2.5")), (5, ("1.25", "3.75")), (5, ("1", "1", "1", "1", "1")), (5, ("1.1", "1.9", "2")),
     (15, ("2.5",) * 6), (3, ("1", "2.0")), (7, ("3.333", "3.667")), (5, ("1.000000000000", "4"))],
)
def test_durations_that_add_up_exactly_are_accepted(
    api_server: RunningServer, duration: int, seconds: tuple[str, ...]
) -> None:
    response = api_server.submit(V30, with_segments(duration, *seconds))
    assert response.status_code == 200, response.text
    plan = response.json()["data"]["input"]["multi_prompt"]
    assert [segment["duration"] for segment in plan] == list(seconds)
    priced = api_server.client.post("/api/v3/model/pricing", json={"model_id": V30,
                                                                   "inputs": with_segments(duration, *seconds)})
    assert priced.status_code == 200 and priced.json()["data"]["seconds"] == duration


@pytest.mark.parametrize(
    ("duration", "seconds", "fragment"),
    [(5, ("2.4999999999999", "2.5"), "add up to 4.9999999999999"),
     (5, ("2.0000000000001", "3"), "add up to 5.0000000000001"),
     (5, ("2.50000000000001", "2.5"), "add up to 5.00000000000001"),
     (7, ("3.333", "3.666"), "add up to 6.999"),
     (5, ("0.5", "4.5"), "at least 1 s"),
     (5, ("4.999", "0.001"), "at least 1 s"),
     (5, ("2.00000000000000000000000000001", "3"), "longer than 16 characters"),
     (5, ("2e0", "3"), "written like"),
     (15, ("2.5",) * 5 + ("2.4999999999",), "add up to")],
)
def test_durations_are_compared_exactly_and_segments_last_a_second(
    api_server: RunningServer, duration: int, seconds: tuple[str, ...], fragment: str
) -> None:
    body = assert_error_envelope(api_server.submit(V30, with_segments(duration, *seconds)), 400)
    assert fragment in body["message"] and body["error"]["param"].startswith("multi_prompt"), body
    priced = api_server.client.post("/api/v3/model/pricing",
                                    json={"model_id": V30, "inputs": with_segments(duration, *seconds)})
    assert fragment in assert_error_envelope(priced, 400)["message"]


def test_healthz_answers_at_once_while_another_connection_holds_the_write_lock(
    start_sqlite_server: ServerFactory,
) -> None:
    server = start_sqlite_server(workers=0)
    database_file = server.runtime.settings.resolved_database_url().removeprefix("sqlite:///")
    holder = sqlite3.connect(database_file, isolation_level=None, timeout=1)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE accounts SET name = name")
        started = time.monotonic()
        response = httpx.get(server.base_url + "/healthz", timeout=60)
        waited = time.monotonic() - started
        assert response.status_code == 200, response.text
        # The old /healthz waited for SQLite's busy timeout (30 s), then answered 500; a generous bound.
        assert waited < 10, f"/healthz took {waited:.1f} s"
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite3.connect(database_file, isolation_level=None, timeout=0).execute("BEGIN IMMEDIATE")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_healthz_writes_nothing(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    database = server.runtime.database
    if database.is_sqlite:
        database_file = server.runtime.settings.resolved_database_url().removeprefix("sqlite:///")
        watcher = sqlite3.connect(database_file, isolation_level=None)
        before = watcher.execute("PRAGMA data_version").fetchone()[0]
        for _ in range(5):
            assert httpx.get(server.base_url + "/healthz").status_code == 200
        assert watcher.execute("PRAGMA data_version").fetchone()[0] == before, "another connection committed"
        watcher.close()
    else:
        for _ in range(5):
            assert httpx.get(server.base_url + "/healthz").status_code == 200


@pytest.mark.parametrize("key_cache_seconds", [0.0, 60.0], ids=["routed", "fast-path"])
def test_every_answer_to_a_counted_request_carries_rate_headers(
    start_server: ServerFactory, key_cache_seconds: float
) -> None:
    server = start_server(workers=0, key_cache_seconds=key_cache_seconds)
    key = server.runtime.keys.create("one-at-a-time", balance_usd="0.5",
                                     limits=KeyLimits(rpm=100, max_concurrency=1)).secret
    body = {"prompt": "zoom in", "image": IMAGE, "duration": 3}

    first = server.submit(SEED_ROUTE, body, key=key)
    assert first.status_code == 200, first.text
    assert all(name in first.headers for name in RATE_HEADERS)

    in_flight = server.submit(SEED_ROUTE, body, key=key)
    refused = assert_error_envelope(in_flight, 429)
    assert "in flight" in refused["message"]
    assert in_flight.headers["retry-after"]
    assert in_flight.headers["x-ratelimit-limit"] == "100"
    assert int(in_flight.headers["x-ratelimit-remaining"]) == 98, "the refused request was counted too"
    assert int(in_flight.headers["x-ratelimit-reset"]) >= int(first.headers["x-ratelimit-reset"])

    invalid = server.submit(SEED_ROUTE, {"prompt": "p", "duration": 99}, key=key)
    assert_error_envelope(invalid, 400)
    assert int(invalid.headers["x-ratelimit-remaining"]) == 97

    broke = server.runtime.keys.create("broke", limits=KeyLimits(rpm=100, max_concurrency=5)).secret
    poor = server.submit(SEED_ROUTE, body, key=broke)
    assert assert_error_envelope(poor, 403)["error"]["type"] == "insufficient_balance"
    assert poor.headers["x-ratelimit-limit"] == "100"

    # Voice creation is a job too: the same cap, the same headers.
    sample = base64.b64encode(b"RIFF" + bytes(64)).decode()
    voice = server.client.post("/api/v3/kwaivgi/kling_custom_voice/create_voice", json={"audio": sample},
                               headers={"Authorization": key})
    assert "in flight" in assert_error_envelope(voice, 429)["message"]
    assert all(name in voice.headers for name in RATE_HEADERS)

    uncounted = server.client.get("/api/v3/balance", headers={"Authorization": key})
    assert not any(name in uncounted.headers for name in RATE_HEADERS), "reads are not counted"
