"""Local first, hosted when busy: a route bound to a local engine and an upstream one sends a job upstream when the
local queue's estimated wait passes `spill_after_seconds`, under the same job id, at the upstream engine's price."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import av
import httpx

from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.fake_providers.base import FakeProvider
from tests.support.images import image_bytes

IMAGE = base64.b64encode(image_bytes(640, 480)).decode()


def spill_config(tmp_path: Path, fake: FakeProvider) -> Path:
    config = tmp_path / "reelserve.toml"
    config.write_text(f"""
[routes."{SEED_ROUTE}"]
engines = ["local", "hosted"]
spill_after_seconds = 90

[routes."{SEED_ROUTE}".local]
engine = "motion"

[routes."{SEED_ROUTE}".hosted]
engine = "upstream"
provider = "v3"
base_url = "{fake.base_url}"
model = "kwaivgi/kling-v2.5-turbo-std/image-to-video"
api_key_env = "FAKE_V3_KEY"
poll_interval_seconds = 0.1
timeout_seconds = 20
price_per_second = 0.06
""")
    return config


def test_a_job_spills_upstream_when_the_local_queue_is_long(
    start_server: ServerFactory, providers: dict[str, FakeProvider], tmp_path: Path
) -> None:
    config = spill_config(tmp_path, providers["v3"])
    api_only = start_server(workers=0, config=config)
    body = {"prompt": "zoom in", "image": IMAGE, "duration": 5}
    # Nothing has run yet, so each waiting job counts as a minute: two waiting put the local wait past 90 s.
    local = [api_only.submit(SEED_ROUTE, body).json()["data"] for _ in range(2)]
    spilled = api_only.submit(SEED_ROUTE, body).json()["data"]
    assert [item["price"] for item in local] == [0.21, 0.21]
    assert spilled["price"] == 0.3, "the hosted engine's own price"

    with_workers = start_server(workers=1, config=config)
    for item in [*local, spilled]:
        assert with_workers.wait(item["id"], key=api_only.key)["status"] == "completed"
    admin = with_workers.runtime.keys.create("admin", role="admin").secret
    engines = {
        item["id"]: with_workers.client.get(f"/admin/predictions/{item['id']}",
                                            headers={"Authorization": admin}).json()["data"]["engine"]
        for item in [*local, spilled]
    }
    assert [engines[item["id"]]["binding"] for item in local] == ["local", "local"]
    hosted = engines[spilled["id"]]
    assert (hosted["binding"], hosted["engine"], hosted["provider"]) == ("hosted", "upstream", "v3")
    assert hosted["job_id"], "the provider's job id is kept"
    result = with_workers.client.get(f"/api/v3/predictions/{spilled['id']}/result",
                                     headers={"Authorization": api_only.key}).json()["data"]
    video = httpx.get(result["outputs"][0])
    with av.open(io.BytesIO(video.content)) as container:
        assert container.streams.video[0].frames > 0
