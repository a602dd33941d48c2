"""reelserve as a gateway, through its HTTP API: routes bound to hosted providers (fakes on loopback, one of
each), their outputs stored by reelserve and playable, each failure a documented status, message and refund,
and no credential anywhere in an answer or a log line."""

from __future__ import annotations

import base64
import io
import logging
import time
from pathlib import Path
from typing import Any

import av
import pytest

from reelserve.config import Settings
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.fake_providers.base import FakeProvider
from tests.support.images import image_bytes
from tests.support.server import RunningServer, ServerThread
from tests.upstream.conftest import CREDENTIALS

ROUTES = {
    "v3": SEED_ROUTE,
    "kling": "kwaivgi/kling-v2.5-turbo-pro/image-to-video",
    "fal": "wavespeed-ai/wan-2.2/i2v-720p",
    "replicate": "wavespeed-ai/wan-2.1/i2v-480p",
}
COMMON = "poll_interval_seconds = 0.1\ntimeout_seconds = 4\nmax_output_bytes = 1048576\n"


def gateway_config(tmp_path: Path, fakes: dict[str, FakeProvider]) -> Path:
    config = tmp_path / "reelserve.toml"
    config.write_text(f"""
[routes."{ROUTES['v3']}"]
engine = "upstream"
provider = "v3"
base_url = "{fakes['v3'].base_url}"
model = "kwaivgi/kling-v2.5-turbo-std/image-to-video"
api_key_env = "FAKE_V3_KEY"
{COMMON}
[routes."{ROUTES['kling']}"]
engine = "upstream"
provider = "kling"
base_url = "{fakes['kling'].base_url}"
model = "kling-v2-5-turbo"
access_key_env = "FAKE_KLING_ACCESS_KEY"
secret_key_env = "FAKE_KLING_SECRET_KEY"
input = {{ fixed = {{ mode = "pro" }} }}
limits.duration = {{ allowed = [5, 10], default = 5 }}
{COMMON}
[routes."{ROUTES['fal']}"]
engine = "upstream"
provider = "fal"
base_url = "{fakes['fal'].base_url}"
model = "fal-ai/wan/v2.2-a14b/image-to-video"
api_key_env = "FAKE_FAL_KEY"
{COMMON}
[routes."{ROUTES['replicate']}"]
engine = "upstream"
provider = "replicate"
base_url = "{fakes['replicate'].base_url}"
model = "wavespeedai/wan-2.1-i2v-480p"
api_key_env = "FAKE_REPLICATE_TOKEN"
prefer_wait_seconds = 1
{COMMON}""")
    return config


IMAGE = base64.b64encode(image_bytes(640, 480)).decode()


def body_for(provider: str) -> dict[str, Any]:
    return {"prompt": "a slow pan over the harbour at dusk", "image": IMAGE, "duration": 5}


def finished(server: RunningServer, prediction_id: str, timeout: float = 60) -> dict[str, Any]:
    return server.wait(prediction_id, timeout=timeout)


def balance(server: RunningServer) -> float:
    return float(server.client.get("/api/v3/balance").json()["data"]["balance"])


def ledger(server: RunningServer) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        data = server.client.get("/api/v3/account/billings", params={"page": page, "page_size": 100}).json()["data"]
        items += data["items"]
        if len(items) >= data["total"]:
            return items
        page += 1


def assert_no_credentials(*texts: str) -> None:
    for text in texts:
        for name, value in CREDENTIALS.items():
            assert value not in text, f"the credential of {name} leaked"


def test_a_job_on_each_provider_is_stored_by_reelserve_and_plays(
    start_server: ServerFactory, providers: dict[str, FakeProvider], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = start_server(config=gateway_config(tmp_path, providers), workers=4)
    answers: list[str] = []
    submitted = {}
    for provider, route in ROUTES.items():
        response = server.submit(route, body_for(provider))
        assert response.status_code == 200, response.text
        answers.append(response.text)
        submitted[provider] = response.json()["data"]["id"]
    for provider, prediction_id in submitted.items():
        data = finished(server, prediction_id)
        answers.append(str(data))
        assert data["status"] == "completed", (provider, data["error"])
        assert data["has_nsfw_contents"] == [False]
        (output,) = data["outputs"]
        assert output.startswith(server.base_url + "/files/outputs/"), "the output is reelserve's, not the provider's"
        download = server.client.get(output)
        assert download.status_code == 200 and download.headers["content-type"] == "video/mp4"
        with av.open(io.BytesIO(download.content)) as container:
            assert sum(1 for _ in container.decode(video=0)) == 24
            assert len(container.streams.audio) == 1
        fake = providers[provider]
        assert len(fake.jobs) == 1 and len(fake.submits()) == 1
    assert providers["kling"].submits()[0].json["mode"] == "pro"
    assert set(providers["fal"].submits()[0].json) == {"prompt", "duration", "image_url"}, "the route's own only"
    v3_sent = providers["v3"].submits()[0].json
    assert v3_sent["sound"] is False and v3_sent["aspect_ratio"] == "16:9" and v3_sent["duration"] == 5
    assert v3_sent["image"].startswith(providers["v3"].base_url + "/uploads/")
    models = server.client.get("/api/v3/models").text
    openapi = server.client.get("/openapi.json").text
    for provider, route in ROUTES.items():
        assert f'"provider":"{provider}"' in models.replace(" ", "")
        assert f"/api/v3/{route}" in openapi
    assert_no_credentials(*answers, models, openapi, caplog.text)


SCENARIOS: list[tuple[str, str, str]] = [
    ("slow", "completed", ""),
    ("rate_limited", "completed", ""),
    ("server_error", "failed", "answered HTTP 5"),
    ("refused", "failed", "blocked by the content policy of the {provider} provider"),
    ("failed", "failed", "failed the job: "),
    ("never_ends", "failed", "did not finish the job within 4 s"),
    ("malformed", "failed", "sent an answer reelserve could not read"),
    ("output_404", "failed", "answered HTTP 404"),
    ("huge_output", "failed", "output URL content is larger than the limit of 1 MB"),
]


def test_every_failure_maps_to_a_documented_status_message_and_refund(
    start_server: ServerFactory, providers: dict[str, FakeProvider], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    server = start_server(config=gateway_config(tmp_path, providers), workers=4)
    opening = balance(server)
    spent = 0.0
    seen: list[str] = []
    for scenario, status, message in SCENARIOS:
        ids = {}
        for provider, fake in providers.items():
            fake.set_scenario(scenario)
            response = server.submit(ROUTES[provider], body_for(provider))
            assert response.status_code == 200, response.text
            ids[provider] = response.json()["data"]["id"]
        for provider, prediction_id in ids.items():
            data = finished(server, prediction_id)
            seen.append(str(data))
            assert data["status"] == status, (scenario, provider, data["error"])
            if status == "failed":
                assert message.format(provider=provider) in data["error"], (scenario, provider, data["error"])
                assert data["outputs"] == []
            else:
                spent += 5 * float(server.runtime.prices.per_second_usd[ROUTES[provider]])
    entries = ledger(server)
    refunded = {entry["prediction_id"] for entry in entries if entry["type"] == "refund"}
    assert len(refunded) == 4 * sum(1 for _, status, _ in SCENARIOS if status == "failed")
    assert balance(server) == pytest.approx(opening - spent, abs=1e-6)
    assert sum(entry["amount"] for entry in entries) == pytest.approx(balance(server), abs=1e-6)
    assert_no_credentials(*seen, caplog.text)


def test_a_cancel_through_the_api_is_forwarded_to_the_provider(
    start_sqlite_server: ServerFactory, providers: dict[str, FakeProvider], tmp_path: Path
) -> None:
    config = gateway_config(tmp_path, providers)
    config.write_text(config.read_text().replace("timeout_seconds = 4", "timeout_seconds = 120"))
    server = start_sqlite_server(config=config, workers=4)
    opening = balance(server)
    ids = {}
    for provider in ("v3", "fal", "replicate"):
        providers[provider].set_scenario("never_ends")
        response = server.submit(ROUTES[provider], body_for(provider))
        assert response.status_code == 200, response.text
        ids[provider] = response.json()["data"]["id"]
    deadline = time.monotonic() + 30
    while not all(any(job.polls for job in list(providers[p].jobs.values())) for p in ids):
        assert time.monotonic() < deadline, "the jobs never reached their providers"
        time.sleep(0.05)
    for prediction_id in ids.values():
        response = server.client.post(f"/api/v3/predictions/{prediction_id}/cancel")
        assert response.status_code == 200, response.text
    deadline = time.monotonic() + 30
    for provider, prediction_id in ids.items():
        fake = providers[provider]
        while True:
            data = server.client.get(f"/api/v3/predictions/{prediction_id}/result").json()["data"]
            if data["status"] == "cancelled" and fake.cancelled:
                break
            assert time.monotonic() < deadline, (provider, data["status"], fake.cancelled)
            time.sleep(0.05)
        assert fake.cancelled == list(fake.jobs) and len(fake.jobs) == 1, provider
    assert balance(server) == pytest.approx(opening, abs=1e-6), "every cancelled job is refunded"


def test_a_provider_echoing_the_credential_has_it_redacted(
    start_sqlite_server: ServerFactory, providers: dict[str, FakeProvider], tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = start_sqlite_server(config=gateway_config(tmp_path, providers))
    providers["v3"].echo_credentials = True  # type: ignore[attr-defined]
    response = server.submit(ROUTES["v3"], body_for("v3"))
    data = finished(server, response.json()["data"]["id"])
    assert data["status"] == "failed" and "[redacted]" in data["error"], data["error"]
    assert_no_credentials(str(data), caplog.text)


def test_the_providers_nsfw_flag_is_carried_over(
    start_sqlite_server: ServerFactory, providers: dict[str, FakeProvider], tmp_path: Path
) -> None:
    server = start_sqlite_server(config=gateway_config(tmp_path, providers))
    providers["v3"].flag_outputs = True  # type: ignore[attr-defined]
    data = finished(server, server.submit(ROUTES["v3"], body_for("v3")).json()["data"]["id"])
    assert data["status"] == "completed" and data["has_nsfw_contents"] == [True]


def test_a_reelserve_bound_to_another_reelserve_serves_the_seed_route(
    start_server: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "upstream-policy.txt"
    policy.write_text("zeppelin\n")
    upstream = ServerThread(Settings(
        data_dir=tmp_path / "upstream-data", allow_private_urls=True, workers=1, job_lease_seconds=3.0,
        worker_poll_seconds=0.2, content_policy_file=policy,
    ))
    hosted = upstream.start()
    try:
        monkeypatch.setenv("UPSTREAM_REELSERVE_KEY", hosted.key)
        config = tmp_path / "gateway.toml"
        config.write_text(f"""
[routes."{SEED_ROUTE}"]
engine = "upstream"
provider = "v3"
base_url = "{hosted.base_url}"
model = "{SEED_ROUTE}"
api_key_env = "UPSTREAM_REELSERVE_KEY"
auth_header = "raw"
poll_interval_seconds = 0.2
""")
        gateway = start_server(config=config)
        hosted_opening = balance(hosted)
        response = gateway.submit(SEED_ROUTE, {"prompt": "slowly zoom in on the harbour", "image": IMAGE,
                                               "duration": 3})
        assert response.status_code == 200, response.text
        data = finished(gateway, response.json()["data"]["id"], timeout=120)
        assert data["status"] == "completed", data["error"]
        download = gateway.client.get(data["outputs"][0])
        with av.open(io.BytesIO(download.content)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == (1280, 720)
            assert sum(1 for _ in container.decode(stream)) == 72
        assert balance(hosted) == pytest.approx(hosted_opening - 3 * 0.042, abs=1e-6)
        assert gateway.runtime.engines.binding(SEED_ROUTE).engine_name == "upstream"

        gateway_before = balance(gateway)
        refused = gateway.submit(SEED_ROUTE, {"prompt": "a zeppelin over the harbour", "image": IMAGE})
        data = finished(gateway, refused.json()["data"]["id"], timeout=120)
        assert data["status"] == "failed", "the upstream server's own policy refuses what this one lets through"
        assert data["error"].startswith(f"blocked by the content policy of the v3 provider ({SEED_ROUTE})")
        assert balance(gateway) == pytest.approx(gateway_before, abs=1e-6), "refunded"
    finally:
        upstream.stop()


def test_an_operator_route_with_a_narrowed_schema(start_server: ServerFactory, tmp_path: Path) -> None:
    config = tmp_path / "reelserve.toml"
    config.write_text("""
[routes."acme/short-zoom"]          # a route of the operator's own
schema = "kling-i2v"                # a built-in parameter family
engine = "motion"
price_per_second = 0.01
[routes."acme/short-zoom".limits]
duration = { max = 5 }
""")
    server = start_server(config=config)
    refused = server.submit("acme/short-zoom", {"prompt": "zoom in", "image": IMAGE, "duration": 6})
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "duration" and "less than or equal to 5" in refused.json()["message"]
    models = {model["id"]: model for model in server.client.get("/api/v3/models").json()["data"]}
    zoom = models["acme/short-zoom"]
    assert zoom["schema"]["properties"]["duration"]["maximum"] == 5
    assert zoom["price"] == {"per_second_usd": "0.01"} and zoom["engine"]["name"] == "motion"
    assert zoom["schema_family"] == "kling-i2v" and zoom["type"] == "image-to-video"
    operation = server.client.get("/openapi.json").json()["paths"]["/api/v3/acme/short-zoom"]["post"]
    assert operation["x-price-per-second-usd"] == "0.01"
    started = time.monotonic()
    accepted = server.submit("acme/short-zoom", {"prompt": "zoom in", "image": IMAGE, "duration": 3})
    assert accepted.status_code == 200, accepted.text
    data = finished(server, accepted.json()["data"]["id"])
    assert data["status"] == "completed" and time.monotonic() - started < 120
    priced = server.client.post("/api/v3/model/pricing", json={"model_id": "acme/short-zoom",
                                                                "inputs": {"duration": 4}}).json()["data"]
    assert priced["price"] == pytest.approx(0.04)
