"""After a scripted run through the HTTP API (jobs that complete, fail, time out, get refused for each reason and
get cancelled; a webhook that fails and then gets through; a hosted provider's calls), /metrics, parsed with
prometheus-client's own parser, shows every counter and histogram with the right values, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reelserve.service.keys import KeyLimits
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.observe.scrape import Samples, changes, labels, scrape, value
from tests.support.fake_providers.base import FakeProvider
from tests.support.fake_providers.v3 import FakeV3
from tests.support.images import image_bytes
from tests.support.server import RunningServer
from tests.support.webhook_receiver import WebhookReceiver

TOKEN = "metrics-" + "0123456789abcdef" * 2
MOTION_ROUTE = "kwaivgi/kling-v2.5-turbo-pro/image-to-video"
UPSTREAM_ROUTE = SEED_ROUTE
PROVIDER_KEY = "sk-fake-v3-for-metrics"
IMAGE = base64.b64encode(image_bytes(640, 360)).decode()
PREDICTION_ID = re.compile(r"/[0-9a-f]{32}(?=/|$)")


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeV3]:
    fake = FakeV3(PROVIDER_KEY).start()
    yield fake
    fake.stop()


def config_with_upstream(tmp_path: Path, fake: FakeProvider) -> Path:
    config = tmp_path / "reelserve.toml"
    config.write_text(f"""
[routes."{UPSTREAM_ROUTE}"]
engine = "upstream"
provider = "v3"
base_url = "{fake.base_url}"
model = "kwaivgi/kling-v2.5-turbo-std/image-to-video"
api_key_env = "FAKE_V3_METRICS_KEY"
poll_interval_seconds = 0.1
timeout_seconds = 3
max_output_bytes = 1048576
""")
    return config


def body(duration: int = 5, **extra: Any) -> dict[str, Any]:
    return {"prompt": "a slow zoom over the harbour", "image": IMAGE, "duration": duration, **extra}


def wait_for(server: RunningServer, prediction_id: str, statuses: set[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = server.client.get(f"/api/v3/predictions/{prediction_id}/result").json()["data"]
        if data["status"] in statuses:
            return data
        assert time.monotonic() < deadline, f"{prediction_id} still {data['status']}"
        time.sleep(0.05)


def template_of(method: str, path: str) -> tuple[str, str]:
    return PREDICTION_ID.sub("/{prediction_id}", path), method


def test_metrics_show_a_scripted_run(
    start_server: ServerFactory, tmp_path: Path, provider: FakeV3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_V3_METRICS_KEY", PROVIDER_KEY)
    provider.reset()
    receiver = WebhookReceiver(statuses=[500])
    server = start_server(
        workers=1, metrics_token=TOKEN, config=config_with_upstream(tmp_path, provider), webhook_retry_scale=0.01,
    )
    answered: list[tuple[str, str, int]] = []
    server.client.event_hooks = {"request": [], "response": [
        lambda response: answered.append((response.request.method, response.request.url.path, response.status_code))
    ]}
    try:
        before = scrape(server.client, TOKEN)
        expected = run_the_script(server, provider, receiver)
        answered_before_last_scrape, after = scrape_when_idle(server, answered)
    finally:
        receiver.close()
    check_predictions(server, before, after, expected)
    check_money(server, before, after)
    check_webhooks_and_provider(before, after, provider)
    check_http(before, after, answered_before_last_scrape)
    check_workers_and_queues(server, after)


def scrape_when_idle(
    server: RunningServer, answered: list[tuple[str, str, int]]
) -> tuple[list[tuple[str, str, int]], Samples]:
    """The scrape once the worker counts no job running, with the requests answered before it. A client sees a
    job's end when its transaction commits; the worker thread then counts it (ended, run time) and frees itself."""
    worker = server.runtime.consumer.worker_name  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    while True:
        answered_before = list(answered)
        samples = scrape(server.client, TOKEN)
        if value(samples, "reelserve_worker_jobs_running", worker=worker) == 0:
            return answered_before, samples
        assert time.monotonic() < deadline, "the worker still counts a job running"
        time.sleep(0.05)


def run_the_script(server: RunningServer, provider: FakeV3, receiver: WebhookReceiver) -> dict[str, Any]:
    submit = server.submit
    hooked = server.client.post(f"/api/v3/{MOTION_ROUTE}", params={"webhook": receiver.url()}, json=body())
    assert hooked.status_code == 200, hooked.text
    plain = submit(MOTION_ROUTE, body()).json()["data"]["id"]
    assert wait_for(server, hooked.json()["data"]["id"], {"completed"})["status"] == "completed"
    assert wait_for(server, plain, {"completed"})["status"] == "completed"

    provider.set_scenario("ok")
    assert wait_for(server, submit(UPSTREAM_ROUTE, body()).json()["data"]["id"], {"completed", "failed"})[
        "status"] == "completed"
    provider.set_scenario("failed")
    failed = wait_for(server, submit(UPSTREAM_ROUTE, body()).json()["data"]["id"], {"completed", "failed"})
    assert failed["status"] == "failed" and "out of capacity" in failed["error"]

    provider.set_scenario("never_ends")
    endless = submit(UPSTREAM_ROUTE, body()).json()["data"]["id"]
    waiting = submit(MOTION_ROUTE, body()).json()["data"]["id"]  # behind it: the one worker is busy for 3 s
    cancelled = server.client.post(f"/api/v3/predictions/{waiting}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["data"]["status"] == "cancelled", cancelled.text
    timed_out = wait_for(server, endless, {"completed", "failed", "timeout"})
    assert timed_out["status"] == "failed" and "did not finish the job within" in timed_out["error"], timed_out

    assert submit(MOTION_ROUTE, body(duration=99)).status_code == 400
    assert submit(MOTION_ROUTE, body(prompt="c.h.i.l.d p0rn")).status_code == 400
    broke = server.runtime.keys.create("broke", balance_usd="0").secret
    assert submit(MOTION_ROUTE, body(), key=broke).status_code == 403
    limited = server.runtime.keys.create("limited", balance_usd="10", limits=KeyLimits(rpm=1)).secret
    assert submit(MOTION_ROUTE, body(duration=99), key=limited).status_code == 400
    assert submit(MOTION_ROUTE, body(), key=limited).status_code == 429

    receiver.wait_for(2)
    deadline = time.monotonic() + 30
    while server.client.get(f"/api/v3/predictions/{hooked.json()['data']['id']}/webhooks").json()["data"]["items"][0][
            "status"] != "delivered":
        assert time.monotonic() < deadline, "the webhook's second attempt was not recorded"
        time.sleep(0.05)
    return {"waiting": waiting}


def check_predictions(server: RunningServer, before: Samples, after: Samples, expected: dict[str, Any]) -> None:
    motion_queue = server.runtime.engines.binding(MOTION_ROUTE).queue
    upstream_queue = server.runtime.engines.binding(UPSTREAM_ROUTE).queue
    assert changes(after, before, "reelserve_predictions_submitted_total") == {
        labels(route=MOTION_ROUTE): 3, labels(route=UPSTREAM_ROUTE): 3,
    }
    assert changes(after, before, "reelserve_predictions_ended_total") == {
        labels(route=MOTION_ROUTE, status="completed"): 2, labels(route=MOTION_ROUTE, status="cancelled"): 1,
        labels(route=UPSTREAM_ROUTE, status="completed"): 1, labels(route=UPSTREAM_ROUTE, status="failed"): 2,
    }
    assert changes(after, before, "reelserve_predictions_refused_total") == {
        labels(route=MOTION_ROUTE, reason="validation"): 2, labels(route=MOTION_ROUTE, reason="policy"): 1,
        labels(route=MOTION_ROUTE, reason="balance"): 1, labels(route=MOTION_ROUTE, reason="rate_limit"): 1,
    }
    assert changes(after, before, "reelserve_engine_failures_total") == {
        labels(route=UPSTREAM_ROUTE, queue=upstream_queue, kind="other"): 1,
        labels(route=UPSTREAM_ROUTE, queue=upstream_queue, kind="timeout"): 1,
    }
    # The cancelled job never started: it has no run time and no time in queue.
    with server.runtime.database.session() as session:
        from reelserve.store.tables import Prediction

        assert session.get(Prediction, expected["waiting"]).started_at is None  # type: ignore[union-attr]
    for histogram in ("reelserve_job_run_seconds", "reelserve_job_queue_seconds"):
        assert changes(after, before, histogram + "_count") == {
            labels(route=MOTION_ROUTE, queue=motion_queue): 2, labels(route=UPSTREAM_ROUTE, queue=upstream_queue): 3,
        }, histogram
        run_sum = changes(after, before, histogram + "_sum")
        assert all(seconds >= 0 for seconds in run_sum.values())
        infinite = changes(after, before, histogram + "_bucket")
        assert infinite[labels(route=MOTION_ROUTE, queue=motion_queue, le="+Inf")] == 2
    upstream_runs = changes(after, before, "reelserve_job_run_seconds_sum")[
        labels(route=UPSTREAM_ROUTE, queue=upstream_queue)]
    assert upstream_runs >= 3.0, "the job that timed out ran for its 3 s limit"


def check_money(server: RunningServer, before: Samples, after: Samples) -> None:
    motion = server.runtime.prices.video_micros(MOTION_ROUTE, 5, with_voices=False) / 1e6
    upstream = server.runtime.prices.video_micros(UPSTREAM_ROUTE, 5, with_voices=False) / 1e6
    charged = changes(after, before, "reelserve_charged_usd_total")
    refunded = changes(after, before, "reelserve_refunded_usd_total")
    assert charged.keys() == {labels(route=MOTION_ROUTE), labels(route=UPSTREAM_ROUTE)}
    assert charged[labels(route=MOTION_ROUTE)] == pytest.approx(3 * motion)
    assert charged[labels(route=UPSTREAM_ROUTE)] == pytest.approx(3 * upstream)
    assert refunded == {labels(route=MOTION_ROUTE): pytest.approx(motion),
                        labels(route=UPSTREAM_ROUTE): pytest.approx(2 * upstream)}
    with server.runtime.database.session() as session:
        from sqlalchemy import func, select

        from reelserve.store.tables import LedgerEntry

        def ledger(kind: str) -> float:
            total = session.scalar(select(func.sum(LedgerEntry.amount_micros)).where(LedgerEntry.kind == kind))
            return abs(int(total or 0)) / 1e6

        assert sum(charged.values()) == pytest.approx(ledger("charge"))
        assert sum(refunded.values()) == pytest.approx(ledger("refund"))


def check_webhooks_and_provider(before: Samples, after: Samples, provider: FakeV3) -> None:
    assert changes(after, before, "reelserve_webhook_deliveries_total") == {
        labels(outcome="retry"): 1, labels(outcome="delivered"): 1,
    }
    assert changes(after, before, "reelserve_webhook_delivery_seconds_count") == {(): 2}
    assert changes(after, before, "reelserve_webhook_delivery_seconds_sum")[()] > 0
    calls = changes(after, before, "reelserve_upstream_calls_total")
    assert calls == {labels(provider="v3", outcome="ok"): len(provider.requests)}, "every call the provider saw"
    assert changes(after, before, "reelserve_upstream_call_seconds_count") == {
        labels(provider="v3"): len(provider.requests)
    }


def check_http(before: Samples, after: Samples, answered: list[tuple[str, str, int]]) -> None:
    counted = Counter((*template_of(method, path), str(status)) for method, path, status in answered)
    expected = {labels(route=route, method=method, status=status): float(count)
                for (route, method, status), count in counted.items()}
    assert changes(after, before, "reelserve_http_requests_total") == expected
    by_route = Counter(template_of(method, path) for method, path, _ in answered)
    assert changes(after, before, "reelserve_http_request_duration_seconds_count") == {
        labels(route=route, method=method): float(count) for (route, method), count in by_route.items()
    }
    assert expected[labels(route=f"/api/v3/{MOTION_ROUTE}", method="POST", status="429")] == 1
    assert expected[labels(route="/api/v3/predictions/{prediction_id}/result", method="GET", status="200")] > 5


def check_workers_and_queues(server: RunningServer, after: Samples) -> None:
    worker = server.runtime.consumer.worker_name  # type: ignore[union-attr]
    assert value(after, "reelserve_worker_jobs_running", worker=worker) == 0
    heartbeat = value(after, "reelserve_worker_heartbeat_timestamp_seconds", worker=worker)
    assert time.time() - 30 < heartbeat <= time.time()
    assert value(after, "reelserve_queue_stats_up") == 1
    for route in (MOTION_ROUTE, UPSTREAM_ROUTE):
        queue = server.runtime.engines.binding(route).queue
        assert ("reelserve_queue_waiting_jobs", labels(route=route, queue=queue)) in after
        assert value(after, "reelserve_queue_waiting_jobs", route=route, queue=queue) == 0
        assert value(after, "reelserve_queue_running_jobs", route=route, queue=queue) == 0
        assert value(after, "reelserve_queue_oldest_wait_seconds", route=route, queue=queue) == 0


def test_polls_answered_by_the_fast_path_are_counted_by_route_template(start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server(workers=0, metrics_token=TOKEN)
    prediction_id = server.submit(MOTION_ROUTE, body()).json()["data"]["id"]
    before = scrape(server.client, TOKEN)
    for path in (f"/api/v3/predictions/{prediction_id}", f"/api/v3/predictions/{prediction_id}/result"):
        for _ in range(3):
            assert server.client.get(path).status_code == 200
    assert server.client.get("/api/v3/predictions/" + "0" * 32).status_code == 404
    assert server.client.get("/no/such/path/" + "x" * 40).status_code == 404
    after = scrape(server.client, TOKEN)
    assert changes(after, before, "reelserve_http_requests_total") == {
        labels(route="/api/v3/predictions/{prediction_id}", method="GET", status="200"): 3,
        labels(route="/api/v3/predictions/{prediction_id}", method="GET", status="404"): 1,
        labels(route="/api/v3/predictions/{prediction_id}/result", method="GET", status="200"): 3,
        labels(route="unmatched", method="GET", status="404"): 1,
        labels(route="/metrics", method="GET", status="200"): 1,
    }
    assert not any("x" * 40 in str(key) or prediction_id in str(key) for key in after), "no raw path as a label"


def test_metrics_need_the_token(start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server(workers=0, metrics_token=TOKEN)
    missing = server.client.get("/metrics")
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert server.client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert server.client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401, "Bearer is needed"
    api_key = server.client.get("/metrics")  # the client's own API key is no metrics token
    assert api_key.status_code == 401
    assert "reelserve_info" in server.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert "/metrics" not in server.client.get("/openapi.json").json()["paths"]


def test_no_metrics_unless_a_token_or_port_is_set(start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server(workers=0)
    answer = server.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 404 and answer.json()["error"]["type"] == "not_found"


def test_metrics_port_on_localhost(start_sqlite_server: ServerFactory) -> None:
    from tests.support.process import free_port

    port = free_port()
    server = start_sqlite_server(workers=0, metrics_port=port)
    assert server.runtime.observability.metrics_port == port
    assert server.client.get("/metrics").status_code == 404, "the API's own port does not serve them"
    served = httpx.get(f"http://127.0.0.1:{port}/metrics")
    assert served.status_code == 200 and served.headers["content-type"].startswith("text/plain")
    assert value(scrape(httpx.Client(), "ignored", f"http://127.0.0.1:{port}/metrics"), "reelserve_queue_stats_up") == 1
    openmetrics = httpx.get(f"http://127.0.0.1:{port}/metrics",
                            headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")
