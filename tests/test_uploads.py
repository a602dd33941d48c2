"""Uploads: one-step and two-step, used as inputs straight from storage, owned by a key, expiring."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from reelserve.store.tables import utcnow
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes
from tests.support.server import RunningServer

PNG = image_bytes(640, 480)


def upload_binary(server: RunningServer, data: bytes, filename: str = "cat.png",
                  content_type: str = "image/png", key: str | None = None) -> httpx.Response:
    headers = {"Authorization": key} if key else None
    return server.client.post("/api/v3/media/upload/binary", files={"file": (filename, data, content_type)},
                              headers=headers)


@pytest.fixture
def server(start_server: ServerFactory) -> RunningServer:
    # Loopback URLs are refused here, so an upload URL that works as `image` was read from storage.
    return start_server(allow_private_urls=False)


def test_binary_upload_feeds_a_prediction_without_a_fetch(server: RunningServer) -> None:
    response = upload_binary(server, PNG)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["type"], data["filename"], data["size"]) == ("image", "cat.png", len(PNG))
    assert data["download_url"].startswith(server.base_url + "/files/uploads/")
    assert httpx.get(data["download_url"]).content == PNG

    loopback = server.submit(SEED_ROUTE, {"prompt": "p", "image": server.base_url + "/healthz"})
    assert loopback.status_code == 400 and loopback.json()["error"]["param"] == "image"

    submitted = server.submit(SEED_ROUTE, {"prompt": "zoom in", "image": data["download_url"], "duration": 3})
    assert submitted.status_code == 200, submitted.text
    assert server.wait(submitted.json()["data"]["id"])["status"] == "completed"


def test_two_step_upload(server: RunningServer) -> None:
    announced = server.client.post("/api/v3/media/uploads",
                                   json={"filename": "dog.png", "size": len(PNG), "content_type": "image/png"})
    assert announced.status_code == 200, announced.text
    data = announced.json()["data"]
    upload = data["upload"]
    assert upload["method"] == "PUT" and upload["headers"] == {"Content-Type": "image/png"}
    assert httpx.get(data["download_url"]).status_code == 404, "nothing there before the PUT"

    tampered = httpx.put(upload["url"].replace("signature=", "signature=f"), content=PNG, headers=upload["headers"])
    assert tampered.status_code == 403
    too_big = httpx.put(upload["url"], content=PNG + b"x", headers=upload["headers"])
    assert too_big.status_code == 400 and "announced" in too_big.json()["message"]

    def chunks():  # no Content-Length: the cap holds while the body streams
        yield PNG
        yield b"more than announced"

    streamed = httpx.put(upload["url"], content=chunks(), headers=upload["headers"])
    assert streamed.status_code == 400

    stored = httpx.put(upload["url"], content=PNG, headers=upload["headers"])
    assert stored.status_code == 200, stored.text
    assert stored.json()["data"]["size"] == len(PNG)
    assert httpx.put(upload["url"], content=PNG).status_code == 400, "an upload is received once"
    assert httpx.get(data["download_url"]).content == PNG

    submitted = server.submit(SEED_ROUTE, {"prompt": "pan left", "image": data["download_url"], "duration": 3,
                                           "enable_sync_mode": True})
    assert submitted.json()["data"]["status"] == "completed"


@pytest.mark.parametrize(
    ("announcement", "param", "fragment"),
    [
        ({"filename": "a.png", "size": 20_000_001, "content_type": "image/png"}, "size", "at most 20"),
        ({"filename": "a.mp4", "size": 100_000_001, "content_type": "video/mp4"}, "size", "at most 100"),
        ({"filename": "a.mp3", "size": 50_000_001}, "size", "at most 50"),
        ({"filename": "a.exe", "size": 10, "content_type": "application/x-msdownload"}, "content_type", "cannot"),
        ({"filename": "a.gif", "size": 10}, "content_type", "cannot"),
        ({"filename": "a.png", "size": 0}, "size", "greater than 0"),
        ({"size": 10}, "filename", "required"),
    ],
)
def test_announcements_outside_the_limits(
    server: RunningServer, announcement: dict[str, object], param: str, fragment: str
) -> None:
    response = server.client.post("/api/v3/media/uploads", json=announcement)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert fragment in response.json()["message"]


def test_binary_upload_refusals(server: RunningServer) -> None:
    too_big = upload_binary(server, b"\x89PNG" + bytes(20_000_000))
    assert too_big.status_code == 400 and "at most 20" in too_big.json()["message"]
    assert upload_binary(server, b"", filename="e.png").status_code == 400
    assert upload_binary(server, b"text", filename="t.txt", content_type="text/plain").status_code == 400
    missing = server.client.post("/api/v3/media/upload/binary", files={"other": ("a.png", PNG, "image/png")})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "file"
    assert httpx.post(server.base_url + "/api/v3/media/upload/binary",
                      files={"file": ("a.png", PNG, "image/png")}).status_code == 401


def test_uploads_belong_to_their_key_and_expire(server: RunningServer) -> None:
    url = upload_binary(server, PNG).json()["data"]["download_url"]
    stranger = server.other_key()
    refused = server.submit(SEED_ROUTE, {"prompt": "p", "image": url}, key=stranger)
    assert refused.status_code == 400 and "another API key" in refused.json()["message"]
    forged = server.submit(SEED_ROUTE, {"prompt": "p", "image": url.replace("signature=", "signature=0")})
    assert forged.status_code == 400 and forged.json()["error"]["param"] == "image"

    assert server.runtime.uploads.purge_expired(now=utcnow() + timedelta(days=6)) == 0
    assert server.runtime.uploads.purge_expired(now=utcnow() + timedelta(days=8)) == 1
    assert not list((server.runtime.storage.root / "uploads").glob("*/*")), "the file is removed"
    expired = server.submit(SEED_ROUTE, {"prompt": "p", "image": url})
    assert expired.status_code == 400 and "expired" in expired.json()["message"]


@pytest.mark.parametrize("size", [(320, 320), (640, 480)], ids=["small", "large"])
def test_a_job_keeps_its_uploaded_image_once_the_upload_is_gone(
    start_server: ServerFactory, size: tuple[int, int]
) -> None:
    # An upload checked on arrival is submitted on the event loop whatever its size (over 256 KiB: large).
    image = image_bytes(*size)
    api_only = start_server(workers=0)
    url = upload_binary(api_only, image).json()["data"]["download_url"]
    submitted = api_only.submit(SEED_ROUTE, {"prompt": "zoom in", "image": url, "duration": 3})
    assert submitted.status_code == 200, submitted.text
    prediction_id = submitted.json()["data"]["id"]

    root = api_only.runtime.storage.root
    (uploaded,) = (root / "uploads").glob("*/*")
    job_input = root / "inputs" / f"{prediction_id}-image"
    assert job_input.stat().st_ino == uploaded.stat().st_ino, "the job's input is a second name of the upload"
    assert api_only.runtime.uploads.purge_expired(now=utcnow() + timedelta(days=8)) == 1
    assert not uploaded.exists() and job_input.read_bytes() == image

    worker = start_server(workers=1)
    assert worker.wait(prediction_id, key=api_only.key)["status"] == "completed"
