"""The whole path through a running server, on SQLite and on PostgreSQL: submit, poll, download, decode."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import pytest

from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.server import RunningServer

V30_PRO = "kwaivgi/kling-v3.0-pro/image-to-video"


def seed_body(image_url: str) -> dict[str, Any]:
    """The seed's example request, verbatim but for the image's origin (served on 127.0.0.1)."""
    return {
        "prompt": "Put a hat on the cat",
        "image": image_url,
        "negative_prompt": "",
        "duration": 5,
    }


def download(server: RunningServer, url: str, target: Path) -> Path:
    response = server.client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    target.write_bytes(response.content)
    return target


def decode(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "fps": stream.average_rate,
            "frames": frames,
            "audio_streams": len(container.streams.audio),
        }


def test_seed_example_end_to_end(start_server: ServerFactory, image_url: str, tmp_path: Path) -> None:
    server = start_server()
    response = server.submit(SEED_ROUTE, seed_body(image_url))
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert envelope["code"] == 200 and envelope["message"] == "success"
    data = envelope["data"]
    assert re.fullmatch(r"[0-9a-f]{32}", data["id"])
    assert data["model"] == SEED_ROUTE
    assert data["status"] in ("created", "processing")
    assert data["outputs"] == [] and data["error"] is None
    assert data["urls"]["get"] == f"{server.base_url}/api/v3/predictions/{data['id']}/result"
    assert datetime.fromisoformat(data["created_at"]).utcoffset().total_seconds() == 0

    result = server.wait(data["id"])
    assert result["status"] == "completed", result
    assert result["error"] is None
    assert len(result["outputs"]) == 1 and result["outputs"][0].startswith(server.base_url + "/files/")
    assert result["has_nsfw_contents"] == [False]
    assert result["executionTime"] > 0 and result["timings"]["inference"] > 0
    assert result["executionTime"] >= result["timings"]["inference"]
    assert result["progress"] == 100

    same = server.client.get(f"/api/v3/predictions/{data['id']}").json()["data"]
    assert same == result
    assert result["input"]["image"] == image_url

    video = decode(download(server, result["outputs"][0], tmp_path / "out.mp4"))
    assert video == {
        "codec": "h264", "pix_fmt": "yuv420p", "width": 1280, "height": 720, "fps": 24,
        "frames": 120, "audio_streams": 0,
    }


@pytest.mark.parametrize(
    ("aspect_ratio", "duration", "size"),
    [("9:16", 3, (720, 1280)), ("1:1", 4, (960, 960))],
)
def test_aspect_ratio_and_duration(
    start_sqlite_server: ServerFactory, image_url: str, tmp_path: Path,
    aspect_ratio: str, duration: int, size: tuple[int, int],
) -> None:
    server = start_sqlite_server()
    body = {"prompt": "pan left", "image": image_url, "aspect_ratio": aspect_ratio,
            "duration": str(duration), "enable_sync_mode": True}
    response = server.submit(SEED_ROUTE, body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "completed", data
    video = decode(download(server, data["outputs"][0], tmp_path / "out.mp4"))
    assert (video["width"], video["height"]) == size
    assert video["frames"] == duration * 24 and video["fps"] == 24


def test_multi_prompt_video_is_the_sum_of_its_segments(
    start_sqlite_server: ServerFactory, image_url: str, tmp_path: Path
) -> None:
    server = start_sqlite_server()
    body = {"prompt": "a walk", "image": image_url, "duration": 4, "enable_sync_mode": True,
            "multi_prompt": [{"index": 1, "prompt": "zoom in", "duration": "1"},
                             {"index": 2, "prompt": "pan right", "duration": "3"}]}
    data = server.submit(V30_PRO, body).json()["data"]
    assert data["status"] == "completed", data
    assert decode(download(server, data["outputs"][0], tmp_path / "out.mp4"))["frames"] == 96


def test_sync_mode_timeout_answers_processing_with_a_poll_url(
    start_sqlite_server: ServerFactory, image_url: str
) -> None:
    server = start_sqlite_server(sync_timeout_seconds=0.3)
    response = server.submit(SEED_ROUTE, {**seed_body(image_url), "duration": 15, "enable_sync_mode": True})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "processing"
    assert data["error"] == "Sync mode timed out"
    assert data["outputs"] == []
    assert data["urls"]["get"].endswith(f"/api/v3/predictions/{data['id']}/result")
    assert server.wait(data["id"])["status"] == "completed"


def test_results_are_private_to_their_key(start_server: ServerFactory, image_url: str) -> None:
    server = start_server(workers=0)
    data = server.submit(SEED_ROUTE, seed_body(image_url)).json()["data"]
    other = server.other_key()
    for path in (f"/api/v3/predictions/{data['id']}/result", f"/api/v3/predictions/{data['id']}"):
        response = server.client.get(path, headers={"Authorization": other})
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "not_found"
        assert server.client.get(path).status_code == 200
    assert server.client.get("/api/v3/predictions/" + "0" * 32 + "/result").status_code == 404


def test_a_job_whose_input_is_gone_fails_with_an_actionable_message(
    start_sqlite_server: ServerFactory, image_url: str
) -> None:
    api_only = start_sqlite_server(workers=0)
    data = api_only.submit(SEED_ROUTE, seed_body(image_url)).json()["data"]
    stored = api_only.runtime.storage.root / "inputs" / f"{data['id']}-image"
    assert stored.is_file()
    stored.unlink()
    with_workers = start_sqlite_server(workers=1)
    result = with_workers.wait(data["id"], key=api_only.key)
    assert result["status"] == "failed"
    assert "no longer stored; submit it again" in result["error"]
    assert result["outputs"] == []


def test_output_links_are_signed(start_sqlite_server: ServerFactory, image_url: str) -> None:
    server = start_sqlite_server()
    data = server.submit(SEED_ROUTE, {**seed_body(image_url), "duration": 3, "enable_sync_mode": True}).json()
    url = data["data"]["outputs"][0]
    assert server.client.get(url, headers={"Authorization": ""}).status_code == 200
    key = url.split("/files/", 1)[1].split("?", 1)[0]
    expired = server.runtime.signer.signed_path(key, now=0)
    tampered = [
        url.replace("signature=", "signature=0"),
        re.sub(r"expires=\d+", "expires=9999999999", url),
        url.split("?", 1)[0],
        server.base_url + expired,
        url.replace(key, key.replace(".mp4", ".mp5")),
    ]
    for bad in tampered:
        response = server.client.get(bad)
        assert response.status_code == 403, bad
        assert response.json()["error"]["type"] == "permission_error"
    assert "expired" in server.client.get(server.base_url + expired).json()["message"]


def test_inline_images_are_not_echoed_back(start_sqlite_server: ServerFactory) -> None:
    import base64

    from tests.support.images import image_bytes

    server = start_sqlite_server(workers=0)
    png = image_bytes(400, 400)
    data = server.submit(SEED_ROUTE, {"prompt": "p", "image": base64.b64encode(png).decode()}).json()["data"]
    assert data["input"]["image"] == f"<inline image, {len(png)} bytes>"
