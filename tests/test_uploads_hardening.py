"""Uploads and served files under hostile use: a single-use PUT ticket taken atomically before any byte is
written, content checked against the declared kind at upload, and files served with nosniff, to HEAD, and
with Range errors in the error envelope."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.audio import encode, voice
from tests.support.hostile import assert_error_envelope
from tests.support.images import image_bytes
from tests.support.server import RunningServer

PNG = image_bytes(400, 400)
JPEG = image_bytes(400, 400, fmt="JPEG")
WEBP = image_bytes(400, 400, fmt="WEBP")
HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(64)


@pytest.fixture
def server(start_server: ServerFactory) -> RunningServer:
    return start_server(workers=0)


def announce(
    server: RunningServer, size: int, filename: str = "a.png", content_type: str = "image/png"
) -> dict[str, Any]:
    response = server.client.post("/api/v3/media/uploads",
                                  json={"filename": filename, "size": size, "content_type": content_type})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_ten_concurrent_puts_to_one_ticket_accept_exactly_one(server: RunningServer) -> None:
    bodies = [image_bytes(400, 400 + i) for i in range(10)]
    ticket = announce(server, max(len(body) for body in bodies))
    start = threading.Barrier(len(bodies))
    answers: list[httpx.Response | None] = [None] * len(bodies)

    def put(index: int) -> None:
        start.wait()
        answers[index] = httpx.put(ticket["upload"]["url"], content=bodies[index], timeout=60)

    threads = [threading.Thread(target=put, args=(index,)) for index in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    accepted = [index for index, answer in enumerate(answers) if answer is not None and answer.status_code == 200]
    assert len(accepted) == 1, [answer.status_code if answer else None for answer in answers]
    for index, answer in enumerate(answers):
        assert answer is not None
        if index not in accepted:
            assert_error_envelope(answer, 400)
    stored = httpx.get(ticket["download_url"])
    assert stored.status_code == 200 and stored.content == bodies[accepted[0]], "the accepted PUT's bytes are kept"
    assert_error_envelope(httpx.put(ticket["upload"]["url"], content=bodies[0]), 400)
    assert httpx.get(ticket["download_url"]).content == bodies[accepted[0]]


def test_a_refused_put_gives_the_ticket_back(server: RunningServer) -> None:
    ticket = announce(server, len(PNG))
    url = ticket["upload"]["url"]
    assert_error_envelope(httpx.put(url, content=PNG + b"x"), 400)  # larger than announced
    assert_error_envelope(httpx.put(url, content=HTML), 400)  # not an image
    assert_error_envelope(httpx.put(url, content=b""), 400)
    accepted = httpx.put(url, content=PNG)
    assert accepted.status_code == 200, accepted.text
    assert httpx.get(ticket["download_url"]).content == PNG


SNIFF_CASES = [
    ("a.png", "image/png", HTML, "an HTML page"),
    ("a.png", "image/png", SVG, "an SVG image"),
    ("a.jpg", "image/jpeg", b"GIF89a" + bytes(100), "a GIF image"),
    ("a.webp", "image/webp", b"%PDF-1.7" + bytes(100), "a PDF document"),
    ("a.png", "image/png", MP4_HEAD, "an MP4 or QuickTime video"),
    ("a.png", "image/png", b"\x00" * 200, "does not recognise"),
    ("a.mp4", "video/mp4", PNG, "a PNG image"),
    ("a.mov", "video/quicktime", b"hello, I am text", "text"),
    ("a.mp3", "audio/mpeg", JPEG, "a JPEG image"),
    ("a.wav", "audio/wav", HTML, "an HTML page"),
    ("a.m4a", "audio/mp4", b'{"json": true}', "JSON text"),
]


@pytest.mark.parametrize(("filename", "content_type", "data", "found"), SNIFF_CASES,
                         ids=[f"{case[1]}-{case[3]}" for case in SNIFF_CASES])
def test_uploads_that_are_not_the_declared_kind_are_refused(
    server: RunningServer, filename: str, content_type: str, data: bytes, found: str
) -> None:
    one_step = server.client.post("/api/v3/media/upload/binary", files={"file": (filename, data, content_type)})
    body = assert_error_envelope(one_step, 400)
    assert found in body["message"] and content_type in body["message"], body["message"]
    assert body["error"]["param"] == "file"

    ticket = announce(server, len(data), filename, content_type)
    two_step = httpx.put(ticket["upload"]["url"], content=data)
    assert found in assert_error_envelope(two_step, 400)["message"]
    assert httpx.get(ticket["download_url"]).status_code == 404, "nothing was stored"


@pytest.mark.parametrize(
    ("filename", "content_type", "data"),
    [("a.png", "image/png", PNG), ("a.jpg", "image/jpeg", JPEG), ("a.webp", "image/webp", WEBP),
     ("a.wav", "audio/wav", None), ("a.mp4", "video/mp4", MP4_HEAD), ("a.m4a", "audio/mp4", MP4_HEAD),
     ("a.mp3", "audio/mpeg", b"ID3\x04\x00" + bytes(64)), ("b.mp3", "audio/mpeg", b"\xff\xfb\x90\x00" + bytes(64)),
     ("a.mov", "video/quicktime", b"\x00\x00\x00\x08wide" + bytes(64))],
    ids=["png", "jpeg", "webp", "wav", "mp4", "m4a", "mp3-id3", "mp3-frame", "mov-wide"],
)
def test_files_of_the_declared_kind_are_accepted(
    server: RunningServer, filename: str, content_type: str, data: bytes | None
) -> None:
    data = data if data is not None else encode(voice(1.0), 48_000, "wav")
    response = server.client.post("/api/v3/media/upload/binary", files={"file": (filename, data, content_type)})
    assert response.status_code == 200, response.text


def test_served_files_carry_nosniff_and_answer_head_and_ranges_in_the_envelope(server: RunningServer) -> None:
    url = server.client.post("/api/v3/media/upload/binary",
                             files={"file": ("a.png", PNG, "image/png")}).json()["data"]["download_url"]
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.content == PNG
    assert whole.headers["x-content-type-options"] == "nosniff"
    assert whole.headers["content-type"] == "image/png"

    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(PNG))
    assert head.headers["x-content-type-options"] == "nosniff"
    assert head.headers["accept-ranges"] == "bytes"

    part = httpx.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == PNG[:10]
    assert part.headers["x-content-type-options"] == "nosniff"
    tail = httpx.get(url, headers={"Range": "bytes=-4"})
    assert tail.status_code == 206 and tail.content == PNG[-4:]

    for past_the_end in (f"bytes={len(PNG)}-", f"bytes={len(PNG) + 10}-{len(PNG) + 20}", "bytes=99999999999-"):
        refused = httpx.get(url, headers={"Range": past_the_end})
        assert_error_envelope(refused, 416)
        assert refused.headers["content-range"] == f"bytes */{len(PNG)}"
    for malformed in ("pages=1-2", "bytes", "bytes=", "bytes=5-1", "bytes=,,,", "bytes=-"):
        assert "Range" in assert_error_envelope(httpx.get(url, headers={"Range": malformed}), 400)["message"]
    # Ranges that are not numbers, or too many of them: the whole file, as RFC 9110 allows.
    for ignored in ("bytes=a-b", "bytes=" + "9" * 5000 + "-", "bytes=" + ",".join(["0-1"] * 200)):
        answer = httpx.get(url, headers={"Range": ignored})
        assert answer.status_code in (200, 206, 400, 416) and answer.status_code < 500

    forged = httpx.head(url.replace("signature=", "signature=0"))
    assert forged.status_code == 403 and forged.content == b""
    assert_error_envelope(httpx.get(url.replace("signature=", "signature=0")), 403)


def test_generated_videos_are_served_with_nosniff(start_server: ServerFactory) -> None:
    server = start_server(workers=1)
    submitted = server.submit("kwaivgi/kling-v2.5-turbo-std/image-to-video",
                              {"prompt": "zoom in", "image": __import__("base64").b64encode(PNG).decode(),
                               "duration": 3})
    assert submitted.status_code == 200, submitted.text
    done = server.wait(submitted.json()["data"]["id"])
    assert done["status"] == "completed", done
    video = httpx.get(done["outputs"][0])
    assert video.headers["content-type"] == "video/mp4" and video.headers["x-content-type-options"] == "nosniff"
    assert httpx.head(done["outputs"][0]).headers["content-length"] == str(len(video.content))
