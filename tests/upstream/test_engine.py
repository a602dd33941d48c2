"""The upstream engine on its own, against the fake providers: inputs as each provider takes them, cancel
forwarded when reelserve stops a job, credentials kept out of every message.

Cancel is driven here through the engine's `should_stop` (what a worker passes it); test_api.py cancels through
the server's cancel endpoint.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from pathlib import Path
from typing import Any

import av
import jwt
import pytest

from reelserve.engines.base import (
    EncodedVideo,
    EngineError,
    EngineTimedOut,
    GenerationRequest,
    JobInterrupted,
    Segment,
)
from reelserve.engines.registry import EngineContext
from reelserve.engines.upstream import create_engine
from reelserve.errors import ContentPolicyViolation
from reelserve.net.fetch import FetchPolicy
from tests.support.fake_providers.base import FakeProvider
from tests.support.images import photo_like
from tests.upstream.conftest import CREDENTIALS

BINDINGS: dict[str, dict[str, Any]] = {
    "v3": {"provider": "v3", "model": "wavespeed-ai/wan-2.2/i2v-720p", "api_key_env": "FAKE_V3_KEY"},
    "kling": {"provider": "kling", "model": "kling-v2-5-turbo", "access_key_env": "FAKE_KLING_ACCESS_KEY",
              "secret_key_env": "FAKE_KLING_SECRET_KEY"},
    "fal": {"provider": "fal", "model": "fal-ai/kling-video/v2.5-turbo/pro/image-to-video",
            "api_key_env": "FAKE_FAL_KEY", "input": {"as_string": ["duration"]}},
    "replicate": {"provider": "replicate", "model": "wavespeedai/wan-2.1-i2v-480p",
                  "api_key_env": "FAKE_REPLICATE_TOKEN"},
}


def engine_for(fake: FakeProvider, provider: str, **extra: Any) -> Any:
    options = {**BINDINGS[provider], "base_url": fake.base_url, "poll_interval_seconds": 0.05,
               "timeout_seconds": 5, **extra}
    context = EngineContext(
        base_dir=Path("."), fetch_policy=FetchPolicy(allow_private=True), environ=dict(CREDENTIALS),
        param_wire_names={"end_image": "last_image"} if provider == "v3" else {},
    )
    engine = create_engine(options, context)
    engine.start()
    return engine


def request(**params: Any) -> GenerationRequest:
    stored = {"prompt": "a slow pan over the harbour", "duration": 5, "aspect_ratio": "16:9", "sound": False,
              "negative_prompt": None, "seed": 7, **params}
    return GenerationRequest(
        prompt=stored["prompt"], segments=[Segment(stored["prompt"], 5.0)], duration=5, aspect_ratio="16:9",
        image=photo_like(640, 480), seed=7, params=stored,
    )


@pytest.mark.parametrize("provider", ["v3", "kling", "fal", "replicate"])
def test_a_job_runs_upstream_and_comes_back_as_a_file(providers: dict[str, FakeProvider], provider: str) -> None:
    fake = providers[provider]
    engine = engine_for(fake, provider)
    seen: list[float] = []
    try:
        video = engine.generate(request(), seen.append, lambda: False)
    finally:
        engine.close()
    assert isinstance(video, EncodedVideo)
    with av.open(str(video.path)) as container:
        assert container.streams.video and sum(1 for _ in container.decode(video=0)) == 24
    video.path.unlink()
    assert video.provider is not None and video.provider.provider == provider
    assert video.provider.job_id in fake.jobs
    assert seen and seen == sorted(seen) and seen[-1] <= 1.0
    sent = fake.submits()[-1].json
    if provider == "v3":
        uploaded = sent["image"]
        assert uploaded.startswith(fake.base_url + "/uploads/")
        assert fake.uploads[uploaded.rsplit("/", 1)[1]][:2] == b"\xff\xd8"
        assert sent["prompt"] == "a slow pan over the harbour" and sent["seed"] == 7 and "negative_prompt" not in sent
        assert video.provider.timings_ms == {"inference": 1234, "execution": 2345}
    elif provider == "kling":
        assert base64.b64decode(sent["image"])[:2] == b"\xff\xd8"
        assert sent["model_name"] == "kling-v2-5-turbo" and sent["duration"] == "5" and sent["mode"] == "std"
        assert "seed" not in sent and "sound" not in sent
        assert video.provider.cost == 2.0 and video.provider.cost_unit == "units"
        token = fake.requests[0].headers["authorization"].removeprefix("Bearer ")
        claims = jwt.decode(token, CREDENTIALS["FAKE_KLING_SECRET_KEY"], algorithms=["HS256"])
        assert claims["iss"] == CREDENTIALS["FAKE_KLING_ACCESS_KEY"] and claims["exp"] - claims["nbf"] == 1805
    elif provider == "fal":
        assert sent["image_url"].startswith("data:image/jpeg;base64,") and sent["duration"] == "5"
        assert video.provider.timings_ms == {"inference": 1250}
    else:
        assert sent["input"]["image"].startswith("data:image/jpeg;base64,")
        assert fake.submits()[-1].headers["prefer"] == "wait=5"
        assert video.provider.timings_ms == {"predict": 1500, "total": 2250}


def test_replicate_uploads_a_large_image_through_its_files_api(providers: dict[str, FakeProvider]) -> None:
    fake = providers["replicate"]
    engine = engine_for(fake, "replicate")
    big = request()
    noisy = photo_like(1800, 1200, seed=3).effect_spread(8)
    big = GenerationRequest(**{**big.__dict__, "image": noisy})
    video = engine.generate(big, lambda _: None, lambda: False)
    video.path.unlink()
    sent = fake.submits()[-1].json["input"]["image"]
    assert sent.startswith(fake.base_url + "/v1/files/") and len(fake.files) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("provider", ["v3", "fal", "replicate"])
def test_stopping_a_job_forwards_the_cancel(providers: dict[str, FakeProvider], provider: str) -> None:
    fake = providers[provider]
    fake.set_scenario("never_ends")
    engine = engine_for(fake, provider, timeout_seconds=60)
    stop = threading.Event()

    def stop_once_it_runs() -> None:
        deadline = time.monotonic() + 30
        while not any(job.polls >= 2 for job in list(fake.jobs.values())) and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()

    threading.Thread(target=stop_once_it_runs, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(JobInterrupted):
        engine.generate(request(), lambda _: None, stop.is_set)
    assert time.monotonic() - started < 20
    assert fake.cancelled == list(fake.jobs)


def test_kling_has_no_cancel_so_a_stopped_job_is_only_left(providers: dict[str, FakeProvider]) -> None:
    fake = providers["kling"]
    fake.set_scenario("never_ends")
    engine = engine_for(fake, "kling", timeout_seconds=60)
    polls = []
    with pytest.raises(JobInterrupted):
        engine.generate(request(), lambda _: None, lambda: polls.append(1) or len(polls) > 3)
    assert len(fake.jobs) == 1 and fake.cancelled == []
    assert not [item for item in fake.requests if item.method not in ("GET", "POST")]


def test_a_job_past_its_time_limit_is_cancelled_upstream(providers: dict[str, FakeProvider]) -> None:
    fake = providers["v3"]
    fake.set_scenario("never_ends")
    engine = engine_for(fake, "v3", timeout_seconds=1)
    with pytest.raises(EngineTimedOut, match="did not finish the job within"):
        engine.generate(request(), lambda _: None, lambda: False)
    assert fake.cancelled == list(fake.jobs)


def test_429s_are_waited_out_honouring_retry_after(providers: dict[str, FakeProvider]) -> None:
    fake = providers["fal"]
    fake.set_scenario("rate_limited")
    engine = engine_for(fake, "fal")
    started = time.monotonic()
    video = engine.generate(request(), lambda _: None, lambda: False)
    video.path.unlink()
    assert time.monotonic() - started >= 2.0, "two answers of Retry-After: 1"
    assert len(fake.submits()) == 3


def test_429s_until_the_time_limit_fail_the_job(providers: dict[str, FakeProvider]) -> None:
    fake = providers["replicate"]
    fake.set_scenario("rate_limited")
    fake.rate_limited_left = 1000
    engine = engine_for(fake, "replicate", timeout_seconds=2)
    with pytest.raises(EngineTimedOut, match="kept answering HTTP 429"):
        engine.generate(request(), lambda _: None, lambda: False)


def test_refusals_become_content_policy_failures(providers: dict[str, FakeProvider]) -> None:
    for provider in ("v3", "kling", "fal", "replicate"):
        providers[provider].set_scenario("refused")
        engine = engine_for(providers[provider], provider)
        with pytest.raises(ContentPolicyViolation, match=f"blocked by the content policy of the {provider} provider"):
            engine.generate(request(), lambda _: None, lambda: False)


def test_a_missing_credential_stops_the_start_naming_the_variable(providers: dict[str, FakeProvider]) -> None:
    options = {**BINDINGS["v3"], "base_url": providers["v3"].base_url, "api_key_env": "NOT_SET_ANYWHERE"}
    engine = create_engine(options, EngineContext(base_dir=Path("."), environ={}))
    with pytest.raises(EngineError, match="environment variable NOT_SET_ANYWHERE"):
        engine.start()


def test_wrong_credentials_fail_the_job_without_showing_them(
    providers: dict[str, FakeProvider], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = providers["v3"]
    engine = create_engine(
        {**BINDINGS["v3"], "base_url": fake.base_url},
        EngineContext(base_dir=Path("."), fetch_policy=FetchPolicy(allow_private=True),
                      environ={"FAKE_V3_KEY": "sk-wrong-key-0123456789"}),
    )
    with pytest.raises(EngineError, match="refused reelserve's credentials") as failure:
        engine.generate(request(), lambda _: None, lambda: False)
    assert "sk-wrong-key-0123456789" not in str(failure.value)
    assert "sk-wrong-key-0123456789" not in caplog.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"provider": "v3", "model": "m"}, "needs api_key_env"),
        ({"provider": "kling", "model": "m", "api_key_env": "K"}, "needs access_key_env and secret_key_env"),
        ({"provider": "v3", "model": "m", "api_key_env": "sk-live-abc123"}, "names an environment variable"),
        ({"provider": "v3", "model": "m", "api_key_env": "K", "apikey": "x"}, "apikey: unknown option"),
        ({"provider": "runway", "model": "m", "api_key_env": "K"}, "provider: Input should be"),
        ({"provider": "v3", "model": "m", "api_key_env": "K", "version": "abc"}, "replicate provider only"),
        ({"provider": "v3", "model": "m", "api_key_env": "K", "base_url": "ftp://x"}, "not an http(s) URL"),
        ({"provider": "fal", "model": "m", "api_key_env": "K", "input": {"renames": {}}}, "input.renames"),
    ],
)
def test_bad_options_say_which_option_is_wrong(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="invalid upstream engine options") as failure:
        create_engine(options, EngineContext(base_dir=Path(".")))
    assert message in str(failure.value)
