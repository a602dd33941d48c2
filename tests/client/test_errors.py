"""Each exception of the client, provoked for real against a running server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reelserve.client import (
    AuthenticationError,
    ConnectionFailed,
    ContentPolicyViolation,
    InsufficientBalance,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PredictionFailed,
    RateLimited,
    ReelserveError,
    Timeout,
)
from reelserve.service.keys import KeyLimits
from tests.client.support import async_client_of, client_of
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support import audio
from tests.support.process import free_port

VOICE_ROUTE = "kwaivgi/kling_custom_voice/create_voice"


def test_each_error_type_from_the_server(start_sqlite_server: ServerFactory, image_url: str) -> None:
    server = start_sqlite_server(workers=0)
    image = image_url
    with client_of(server) as client:

        with client_of(server, key="sk-" + "0" * 48) as stranger, pytest.raises(AuthenticationError) as caught:
            stranger.balance()
        assert caught.value.status_code == 401 and caught.value.type == "authentication_error"
        assert caught.value.message

        broke = server.other_key("broke", balance_usd="0")
        with client_of(server, key=broke) as poor, pytest.raises(InsufficientBalance) as caught:
            poor.submit(SEED_ROUTE, {"prompt": "p", "image": image})
        assert caught.value.status_code == 403 and isinstance(caught.value, PermissionDenied)
        assert "balance" in caught.value.message

        narrow = server.other_key("narrow", limits=KeyLimits(models=["kwaivgi/kling-v2.6-std/image-to-video"]))
        with client_of(server, key=narrow) as limited, pytest.raises(PermissionDenied) as caught:
            limited.submit(SEED_ROUTE, {"prompt": "p", "image": image})
        assert caught.value.status_code == 403 and not isinstance(caught.value, InsufficientBalance)
        assert SEED_ROUTE in caught.value.message

        with pytest.raises(InvalidRequest) as caught:
            client.submit(SEED_ROUTE, {"prompt": "p", "image": image, "duration": 99})
        assert caught.value.status_code == 400 and caught.value.param == "duration"
        assert not isinstance(caught.value, ContentPolicyViolation)

        with pytest.raises(ContentPolicyViolation) as caught:
            client.submit(SEED_ROUTE, {"prompt": "c.h.i.l.d p0rn", "image": image})
        assert (caught.value.status_code, caught.value.code, caught.value.param) == (400, 503, "prompt")
        assert isinstance(caught.value, InvalidRequest)

        with pytest.raises(NotFound) as caught:
            client.get("0" * 32)
        assert caught.value.status_code == 404

        submitted = client.submit(SEED_ROUTE, {"prompt": "p", "image": image})
        with pytest.raises(Timeout) as caught:
            client.wait(submitted, timeout=1.0)
        assert caught.value.prediction is not None and caught.value.prediction.status == "created"


def test_rate_limited_carries_retry_after(start_sqlite_server: ServerFactory, image_url: str) -> None:
    server = start_sqlite_server(workers=0)
    key = server.other_key("slow", limits=KeyLimits(rpm=1, max_concurrency=10))
    image = image_url
    with client_of(server, key=key, max_retries=0) as client:
        assert client.submit(SEED_ROUTE, {"prompt": "p", "image": image}).status == "created"
        with pytest.raises(RateLimited) as caught:
            client.submit(SEED_ROUTE, {"prompt": "p", "image": image})
    assert caught.value.status_code == 429 and caught.value.type == "rate_limit_exceeded"
    assert caught.value.retry_after is not None and 1 <= caught.value.retry_after <= 60
    assert "rate limit" in caught.value.message

    async def async_attempt() -> RateLimited:
        async with async_client_of(server, key=key, max_retries=0) as client:
            try:
                await client.submit(SEED_ROUTE, {"prompt": "p", "image": image})
            except RateLimited as exc:
                return exc
        raise AssertionError("a second request within the minute must be refused")

    assert asyncio.run(async_attempt()).retry_after is not None


def test_failed_prediction_raises_with_the_prediction(start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server()
    with client_of(server) as client:
        silent = client.upload(audio.encode(audio.silence(8, 48_000), 48_000, "wav"))
        assert (silent.filename, silent.type) == ("upload.wav", "audio")
        with pytest.raises(PredictionFailed) as caught:
            client.run(VOICE_ROUTE, {"audio": silent.download_url, "voice_name": "quiet"}, timeout=120)
    failed = caught.value.prediction
    assert failed.status == "failed" and failed.error and "silent" in failed.error
    assert failed.id in caught.value.message and failed.error in caught.value.message


def test_unreachable_server(tmp_path: Path) -> None:
    from reelserve.client import Client

    with Client(api_key="sk-x", base_url=f"http://127.0.0.1:{free_port()}", max_retries=1) as client, \
            pytest.raises(ConnectionFailed) as caught:
        client.balance()
    assert isinstance(caught.value, ReelserveError) and "could not reach" in caught.value.message


def test_a_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    from reelserve.client import Client

    monkeypatch.delenv("REELSERVE_API_KEY", raising=False)
    with pytest.raises(AuthenticationError, match="REELSERVE_API_KEY"):
        Client()
    monkeypatch.setenv("REELSERVE_API_KEY", "sk-from-env")
    monkeypatch.setenv("REELSERVE_URL", "http://127.0.0.1:9/api/v3/")
    with Client() as client:
        assert client.options.api_key == "sk-from-env" and client.options.base_url == "http://127.0.0.1:9"

