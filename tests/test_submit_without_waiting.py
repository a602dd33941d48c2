"""Submits run on the event loop where nothing in them would wait, and off it where something would: a URL to
fetch, a large image, many pixels to decode, another writer holding the database."""

from __future__ import annotations

import base64
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from PIL import Image

from reelserve.media.image import LIGHT_PIXELS
from reelserve.service.inputs import LIGHT_IMAGE_BYTES
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes
from tests.support.server import RunningServer

SMALL_PNG = image_bytes(320, 320)
LARGE_PNG = image_bytes(640, 480)


def flat_webp(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(out, format="WEBP", quality=10)
    return out.getvalue()


def work_of(server: RunningServer, **body: object) -> tuple[bool, bool]:
    """What the service says checking this request's inputs costs: (needs the network, light)."""
    key = server.runtime.keys.authenticate(server.key)
    draft = server.runtime.predictions.draft(key, SEED_ROUTE, {"prompt": "zoom in", "duration": 3, **body})
    return draft.work.network, draft.work.light


def test_only_light_inputs_are_checked_on_the_event_loop(api_server: RunningServer) -> None:
    """The rule api/execution.py acts on: small images checked without decoding many pixels are light; a URL, a
    webhook, a large file or an image whose check decodes many pixels are not."""
    assert len(SMALL_PNG) <= LIGHT_IMAGE_BYTES < len(LARGE_PNG)
    small = base64.b64encode(SMALL_PNG).decode()
    assert work_of(api_server, image=small) == (False, True)
    assert work_of(api_server, image=base64.b64encode(LARGE_PNG).decode()) == (False, False)
    # A few kilobytes of WebP that decode to millions of pixels: judged by its pixels, not its bytes.
    webp = flat_webp(2500, 1200)
    assert len(webp) <= LIGHT_IMAGE_BYTES and LIGHT_PIXELS < 2500 * 1200
    assert work_of(api_server, image=base64.b64encode(webp).decode()) == (False, False)
    # Loopback only: nothing is fetched while drafting, and nothing may leave this machine.
    assert work_of(api_server, image="http://127.0.0.1:9/cat.png") == (True, False)
    key = api_server.runtime.keys.authenticate(api_server.key)
    draft = api_server.runtime.predictions.draft(
        key, SEED_ROUTE, {"prompt": "zoom in", "image": small}, webhook_url="http://127.0.0.1:9/hook"
    )
    assert draft.work.network


def test_an_upload_checked_on_arrival_is_light_whatever_its_size(api_server: RunningServer) -> None:
    """Its facts are judged without reading it (tests/test_upload_facts.py); one found damaged is read at submit."""
    assert len(LARGE_PNG) > LIGHT_IMAGE_BYTES
    for data, light in ((LARGE_PNG, True), (LARGE_PNG[:-100], False)):
        uploaded = api_server.client.post(
            "/api/v3/media/upload/binary", files={"file": ("big.png", data, "image/png")}
        )
        assert uploaded.status_code == 200, uploaded.text
        assert work_of(api_server, image=uploaded.json()["data"]["download_url"]) == (False, light)


def test_a_submit_that_meets_another_writer_waits_off_the_event_loop(start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server(workers=0)
    body = {"prompt": "zoom in", "image": base64.b64encode(SMALL_PNG).decode(), "duration": 3}
    auth = {"Authorization": server.key}
    earlier = server.submit(SEED_ROUTE, body).json()["data"]["id"]
    holding, release = threading.Event(), threading.Event()

    def hold_the_database() -> None:
        with server.runtime.database.write():
            holding.set()
            release.wait(60)

    holder = threading.Thread(target=hold_the_database)
    holder.start()
    assert holding.wait(30)
    try:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(httpx.post, f"{server.base_url}/api/v3/{SEED_ROUTE}", json=body, headers=auth,
                                  timeout=60)
            time.sleep(0.3)
            poll = httpx.get(f"{server.base_url}/api/v3/predictions/{earlier}/result", headers=auth, timeout=10)
            assert poll.status_code == 200, "the event loop answers while the submit waits for the database"
            assert not pending.done()
            release.set()
            submitted = pending.result(timeout=60)
    finally:
        release.set()
        holder.join()
    assert submitted.status_code == 200, submitted.text
    accepted = server.client.get(f"/api/v3/predictions/{submitted.json()['data']['id']}/result")
    assert accepted.json()["data"]["status"] == "created"
