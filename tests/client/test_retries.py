"""Retries, Retry-After and the stream's fallback to polling. A real server cannot be made to answer 503
or to drop a stream on cue, so these answers come from httpx's MockTransport."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from reelserve.client import AsyncClient, Client, ConnectionFailed, Prediction, RateLimited, ServerError

ROUTE = "kwaivgi/kling-v2.5-turbo-std/image-to-video"
BASE = "http://v3.test"


def prediction(status: str = "created", progress: int = 0, **extra: Any) -> dict[str, Any]:
    return {"id": "p1", "model": ROUTE, "status": status, "outputs": [], "progress": progress, "error": None,
            "urls": {"get": f"{BASE}/api/v3/predictions/p1/result"}, **extra}


def ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"code": 200, "message": "success", "data": data})


def failure(status: int, error_type: str, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"code": status, "message": message, "data": None, "error": {"type": error_type, "message": message}}
    return httpx.Response(status, json=body, headers=headers)


class Script:
    """Answers each request with the next answer queued for its path; records what was asked."""

    def __init__(self, answers: dict[str, list[httpx.Response | Exception | Callable[[], httpx.Response]]]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.answers.get(request.url.path)
        if not queue:
            return failure(404, "not_found", "no such endpoint")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer() if callable(answer) else answer

    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


def client_for(script: Script, **options: Any) -> Client:
    return Client(api_key="sk-test", base_url=BASE, transport=httpx.MockTransport(script), **options)


def test_a_submit_is_retried_after_retry_after_with_the_same_idempotency_key() -> None:
    script = Script({f"/api/v3/{ROUTE}": [
        failure(503, "server_error", "overloaded", {"Retry-After": "1"}), ok(prediction()),
    ]})
    started = time.monotonic()
    with client_for(script) as client:
        submitted = client.submit(ROUTE, {"prompt": "p"})
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 is waited for"
    assert submitted.id == "p1" and len(script.requests) == 2
    keys = [request.headers.get("Idempotency-Key") for request in script.requests]
    assert keys[0] and keys[0] == keys[1]
    assert all(request.headers["Authorization"] == "Bearer sk-test" for request in script.requests)


def test_a_given_idempotency_key_is_sent_and_none_without_retries() -> None:
    script = Script({f"/api/v3/{ROUTE}": [ok(prediction())]})
    with client_for(script) as client:
        client.submit(ROUTE, {"prompt": "p"}, idempotency_key="order-1", webhook="https://hooks.test/x")
    with client_for(script, max_retries=0) as client:
        client.submit(ROUTE, {"prompt": "p"})
    assert script.requests[0].headers["Idempotency-Key"] == "order-1"
    assert script.requests[0].url.params["webhook"] == "https://hooks.test/x"
    assert "Idempotency-Key" not in script.requests[1].headers


def test_429_is_retried_after_retry_after_then_raised_with_it() -> None:
    script = Script({"/api/v3/balance": [
        failure(429, "rate_limit_exceeded", "slow down", {"Retry-After": "1"}), ok({"balance": 4.5}),
    ]})
    started = time.monotonic()
    with client_for(script) as client:
        assert client.balance() == 4.5
    assert time.monotonic() - started >= 1.0

    script = Script({"/api/v3/balance": [failure(429, "rate_limit_exceeded", "slow down", {"Retry-After": "3600"})]})
    with client_for(script) as client, pytest.raises(RateLimited) as caught:
        client.balance()
    assert caught.value.retry_after == 3600 and len(script.requests) == 1, "an hour is not waited for"


def test_5xx_retries_back_off_then_raise_server_error() -> None:
    script = Script({"/api/v3/balance": [failure(500, "server_error", "database is down")]})
    with client_for(script, max_retries=2) as client, pytest.raises(ServerError, match="database is down") as caught:
        client.balance()
    assert len(script.requests) == 3 and caught.value.status_code == 500


def test_calls_that_must_not_repeat_are_not_retried_after_5xx_or_a_lost_answer() -> None:
    script = Script({
        "/api/v3/predictions/p1/cancel": [failure(502, "server_error", "bad gateway")],
        "/api/v3/predictions/p2/cancel": [httpx.ReadError("connection reset")],
    })
    with client_for(script) as client:
        with pytest.raises(ServerError):
            client.cancel("p1")
        with pytest.raises(ConnectionFailed):
            client.cancel("p2")
    assert script.paths() == ["/api/v3/predictions/p1/cancel", "/api/v3/predictions/p2/cancel"]


def test_connection_errors_are_retried_where_safe() -> None:
    script = Script({
        f"/api/v3/{ROUTE}": [httpx.ReadError("reset"), ok(prediction())],
        "/api/v3/predictions/p1/cancel": [httpx.ConnectError("refused"), ok(prediction("cancelled"))],
    })
    with client_for(script) as client:
        assert client.submit(ROUTE, {"prompt": "p"}).id == "p1", "a keyed submit may be sent again"
        assert client.cancel("p1").status == "cancelled", "a request that never left may be sent again"
    assert len(script.requests) == 4


def sse(*predictions: dict[str, Any], comment: bool = True) -> bytes:
    chunks = [b": keep-alive\n\n"] if comment else []
    for data in predictions:
        chunks.append(b"event: prediction\ndata: " + json.dumps(data).encode() + b"\n\n")
    return b"".join(chunks)


def event_stream(body: Iterator[bytes]) -> httpx.Response:
    return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, content=body)


def dropped_after_first_event() -> Iterator[bytes]:
    yield sse(prediction("processing", 10))
    raise httpx.ReadError("connection dropped")


def test_wait_falls_back_to_polling_without_a_stream_or_when_it_drops() -> None:
    done = prediction("completed", 100, outputs=[f"{BASE}/files/p1.mp4"])
    without_stream = Script({
        "/api/v3/predictions/p1/stream": [failure(405, "invalid_request_error", "Method Not Allowed")],
        "/api/v3/predictions/p1/result": [ok(prediction("processing", 50)), ok(done)],
    })
    seen: list[Prediction] = []
    with client_for(without_stream) as client:
        finished = client.wait("p1", progress=seen.append)
    assert finished.status == "completed" and [item.progress for item in seen] == [50, 100]

    dropping = Script({
        "/api/v3/predictions/p1/stream": [lambda: event_stream(dropped_after_first_event())],
        "/api/v3/predictions/p1/result": [ok(prediction("processing", 10)), ok(done)],
    })
    seen = []
    with client_for(dropping) as client:
        finished = client.wait(Prediction.from_data(prediction()), progress=seen.append)
    assert finished.status == "completed"
    assert [(item.status, item.progress) for item in seen] == [("created", 0), ("processing", 10), ("completed", 100)]
    assert dropping.paths().count("/api/v3/predictions/p1/stream") == 1


def test_stream_parses_events_and_wait_ends_with_the_terminal_one() -> None:
    body = sse(prediction("created", 0, queue_position=2), prediction("processing", 40), prediction("failed", 40,
               error="engine crashed"))
    script = Script({"/api/v3/predictions/p1/stream": [lambda: event_stream(iter([body[:17], body[17:]]))]})
    with client_for(script) as client:
        events = list(client.stream("p1"))
        assert [(event.status, event.queue_position) for event in events] == [
            ("created", 2), ("processing", None), ("failed", None)]
        assert client.wait("p1").error == "engine crashed"
    assert script.requests[0].headers["Accept"] == "text/event-stream"


def test_async_client_retries_and_falls_back_the_same_way() -> None:
    script = Script({
        "/api/v3/balance": [failure(503, "server_error", "busy", {"Retry-After": "1"}), ok({"balance": 2})],
        "/api/v3/predictions/p1/result": [ok(prediction("completed", 100))],
    })

    async def scenario() -> tuple[float, Prediction]:
        async with AsyncClient(api_key="sk-test", base_url=BASE, transport=httpx.MockTransport(script)) as client:
            return await client.balance(), await client.wait("p1")

    started = time.monotonic()
    balance, finished = asyncio.run(scenario())
    assert time.monotonic() - started >= 1.0
    assert balance == 2 and finished.status == "completed"
    assert script.paths() == ["/api/v3/balance", "/api/v3/balance", "/api/v3/predictions/p1/stream",
                              "/api/v3/predictions/p1/result"]
