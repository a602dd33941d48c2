"""Submits run on the event loop where nothing in them would wait, and in the threadpool where something would:
a URL to fetch, a large image, another writer holding the database."""

from __future__ import annotations

import base64
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from reelserve.errors import WouldBlock
from reelserve.service.inputs import UNWAITED_IMAGE_BYTES
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes
from tests.support.server import RunningServer

SMALL_PNG = image_bytes(320, 320)
LARGE_PNG = image_bytes(640, 480)


def test_image_loads_that_may_not_wait_give_way_before_any_work(api_server: RunningServer) -> None:
    assert len(SMALL_PNG) <= UNWAITED_IMAGE_BYTES < len(LARGE_PNG)
    images = api_server.runtime.predictions.images
    key = api_server.runtime.keys.authenticate(api_server.key)
    small = base64.b64encode(SMALL_PNG).decode()
    assert images.load(small, param="image", key=key, may_wait=False).data == SMALL_PNG
    # Loopback, so that a load that wrongly went ahead could not reach beyond this machine.
    for refused in (
        {"value": "http://127.0.0.1:9/cat.png"},
        {"value": base64.b64encode(LARGE_PNG).decode()},
        {"value": small, "pixels": True},
    ):
        with pytest.raises(WouldBlock):
            images.load(param="image", key=key, may_wait=False, **refused)


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
