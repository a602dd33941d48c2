"""The pieces under the upstream engine: the provider HTTP client (one origin, no redirects, time limits),
the check an encoded output passes before it is stored, and the redaction of credentials."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from reelserve.engines.base import EngineError
from reelserve.engines.upstream.errors import Redactor
from reelserve.net.provider_http import ForeignOrigin, ProviderHttp, ProviderUnreachable
from reelserve.worker.encoded_output import check_encoded_video
from tests.support.fake_providers.asgi_thread import AsgiThread
from tests.support.videos import tiny_mp4


async def redirect(request: Request) -> Response:
    return RedirectResponse("http://127.0.0.1:9/elsewhere", status_code=302)


async def slow(request: Request) -> Response:
    await asyncio.sleep(3)
    return JSONResponse({"late": True})


async def echo(request: Request) -> Response:
    return JSONResponse({"path": request.url.path, "authorization": request.headers.get("authorization")})


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    server = AsgiThread(Starlette(routes=[
        Route("/redirect", redirect), Route("/slow", slow), Route("/{path:path}", echo, methods=["GET", "POST"]),
    ]))
    yield server.start()
    server.stop()


def test_calls_stay_on_the_configured_origin(origin: str) -> None:
    http = ProviderHttp(origin + "/base", timeout_seconds=5)
    answer = http.request("GET", "api/v3/x", headers={"Authorization": "Bearer k"})
    assert answer.data == {"path": "/base/api/v3/x", "authorization": "Bearer k"}
    assert http.request("GET", origin + "/abs").data["path"] == "/abs"
    with pytest.raises(ForeignOrigin):
        http.request("GET", "http://127.0.0.2:1/steal", headers={"Authorization": "Bearer k"})
    assert not http.same_origin("https://" + origin.removeprefix("http://"))


def test_redirects_are_not_followed_and_silence_is_bounded(origin: str) -> None:
    http = ProviderHttp(origin, timeout_seconds=5)
    answer = http.request("GET", "redirect")
    assert answer.status == 302 and answer.headers["location"].endswith("/elsewhere")
    with pytest.raises(ProviderUnreachable, match=r"did not answer within 0\.5 s"):
        http.request("GET", "slow", timeout_seconds=0.5)
    with pytest.raises(ProviderUnreachable, match="could not be reached"):
        ProviderHttp("http://127.0.0.1:9", timeout_seconds=2).request("GET", "x")


def test_a_provider_mp4_passes_the_check(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    path.write_bytes(tiny_mp4())
    info = check_encoded_video(path)
    assert (info.width, info.height, info.frame_count, info.has_audio) == (160, 96, 24, True)
    assert info.duration_seconds == pytest.approx(2.0, abs=0.1)


def audio_only_mp4() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=24000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 24000, 0, Fraction(1, 24000)
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html>an error page</html>", "not a playable video"),
        (tiny_mp4()[: len(tiny_mp4()) // 3], "not a playable video"),
        (audio_only_mp4(), "no video stream"),
    ],
)
def test_anything_but_a_playable_video_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "out.mp4"
    path.write_bytes(content)
    with pytest.raises(EngineError, match=message):
        check_encoded_video(path)


def test_credentials_are_redacted_from_provider_text() -> None:
    redactor = Redactor(["sk-very-secret-1234"])
    assert redactor.clean("bad key Bearer sk-very-secret-1234 given") == "bad key Bearer [redacted] given"
    assert len(redactor.clean("x" * 5000)) == 300
