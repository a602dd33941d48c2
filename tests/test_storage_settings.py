"""Files in an S3 bucket behind a server in this process: uploads, inputs and outputs in the bucket, output links
either presigned by the store or reelserve's own /files/ links streamed from it (ranges, HEAD), objects removed
with a deleted prediction; the workers table; settings refused at start."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from reelserve.catalog.route_tables import ConfigError
from reelserve.catalog.routes import VOICE_MODEL_ID
from reelserve.config import Settings
from reelserve.runtime import build_runtime
from tests.conftest import SEED_ROUTE
from tests.support.databases import database_url
from tests.support.images import image_bytes
from tests.support.object_store import REGION, S3Server
from tests.support.server import ServerThread


def s3_settings(tmp_path: Path, url: str, s3: S3Server, bucket: str, **overrides: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=url, workers=1, allow_private_urls=True,
        storage_url=f"s3://{bucket}/files", s3_endpoint_url=s3.endpoint_url, s3_region=REGION, **overrides,
    )


@pytest.fixture
def aws_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for name, value in s3_server.env("unused").items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    return s3_server


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_files_served_through_the_api_come_from_the_bucket(tmp_path: Path, aws_env: S3Server, backend: str) -> None:
    bucket = aws_env.new_bucket()
    with database_url(backend, tmp_path) as url:
        thread = ServerThread(s3_settings(tmp_path, url, aws_env, bucket, serve_files_via_api=True))
        server = thread.start()
        try:
            uploaded = server.client.post(
                "/api/v3/media/upload/binary", files={"file": ("cat.png", image_bytes(640, 360), "image/png")}
            ).json()["data"]
            done = server.submit(
                SEED_ROUTE, {"prompt": "zoom in", "image": uploaded["download_url"], "duration": 3,
                             "enable_sync_mode": True},
            ).json()["data"]
            assert done["status"] == "completed", done
            link = done["outputs"][0]
            assert link.startswith(server.base_url + "/files/outputs/")
            keys = set(aws_env.keys(bucket))
            assert f"files/outputs/{done['id']}/{done['id']}.mp4" in keys and any(k.startswith("files/uploads/")
                                                                                   for k in keys)
            whole = httpx.get(link)
            assert whole.status_code == 200 and whole.headers["x-content-type-options"] == "nosniff"
            with av.open(io.BytesIO(whole.content)) as container:
                assert sum(1 for _ in container.decode(video=0)) == 72
            part = httpx.get(link, headers={"Range": "bytes=100-199"})
            assert part.status_code == 206 and part.content == whole.content[100:200]
            assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
            head = httpx.head(link)
            assert head.status_code == 200 and int(head.headers["content-length"]) == len(whole.content)
            assert httpx.get(link, headers={"Range": f"bytes={len(whole.content) + 5}-"}).status_code == 416
            assert httpx.get(link.replace("signature=", "signature=0")).status_code == 403

            # OpenAI's download endpoint serves the same objects from the bucket.
            content = server.client.get(f"/v1/videos/{done['id']}/content")
            assert content.status_code == 200 and content.content == whole.content, content.text[:300]
            assert content.headers["content-type"] == "video/mp4"
            thumbnail = server.client.get(f"/v1/videos/{done['id']}/content", params={"variant": "thumbnail"})
            assert thumbnail.status_code == 200 and thumbnail.content[:3] == b"\xff\xd8\xff", "a JPEG"

            assert server.client.get("/admin/workers").status_code == 403, "for admin keys only"

            assert server.client.delete(f"/api/v3/predictions/{done['id']}").status_code == 200
            assert not [k for k in aws_env.keys(bucket) if done["id"] in k], "a deleted prediction's objects go"
            assert httpx.get(link).status_code == 404
        finally:
            thread.stop()


def test_output_links_are_presigned_by_the_store_by_default(tmp_path: Path, aws_env: S3Server) -> None:
    bucket = aws_env.new_bucket()
    with database_url("sqlite", tmp_path) as url:
        thread = ServerThread(s3_settings(tmp_path, url, aws_env, bucket))
        server = thread.start()
        try:
            image = base64.b64encode(image_bytes(640, 360)).decode()
            done = server.submit(SEED_ROUTE, {"prompt": "pan left", "image": image, "duration": 3,
                                              "enable_sync_mode": True}).json()["data"]
            assert done["outputs"][0].startswith(f"{aws_env.endpoint_url}/{bucket}/files/outputs/")
            assert "X-Amz-Signature=" in done["outputs"][0] and "X-Amz-Signature=" in done["posters"][0]
            answer = httpx.get(done["outputs"][0])
            assert answer.status_code == 200 and answer.headers["content-type"] == "video/mp4"
            admin = server.runtime.keys.create("ops", role="admin").secret
            (worker,) = httpx.get(f"{server.base_url}/admin/workers", headers={"Authorization": admin}).json()["data"]
            assert worker["alive"] and worker["queues"] == ["*"] and SEED_ROUTE in worker["routes"]
            assert VOICE_MODEL_ID in worker["routes"], "the in-process worker takes every queue, voices too"
            assert worker["concurrency"] == 1
            # The worker reports the jobs it runs every heartbeat: one written while the job ran is replaced by
            # the next.
            deadline = time.monotonic() + 3 * server.runtime.settings.worker_heartbeat_seconds
            while worker["jobs_running"]:
                assert time.monotonic() < deadline, worker
                time.sleep(0.1)
                (worker,) = httpx.get(f"{server.base_url}/admin/workers",
                                      headers={"Authorization": admin}).json()["data"]
        finally:
            thread.stop()


def test_settings_that_cannot_work_stop_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="procrastinate needs PostgreSQL"):
        build_runtime(Settings(data_dir=tmp_path / "a", queue_backend="procrastinate"))
    with pytest.raises(ConfigError, match="neither a file:// nor an s3:// URL"):
        build_runtime(Settings(data_dir=tmp_path / "b", storage_url="ftp://host/x"))
