"""Image URLs that never answer take threads of the fetch pool only, at most `fetches_per_key` per key (429 past
it), so that everyone else's requests, which need the shared threadpool, go on."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes


@pytest.fixture
def silent_host() -> Iterator[str]:
    """A loopback server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    held: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stopping.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/never.png"
    stopping.set()
    thread.join(5)
    for connection in held:
        connection.close()
    listener.close()


def test_slow_image_urls_hold_only_their_keys_share_of_the_fetch_pool(
    start_sqlite_server: ServerFactory, silent_host: str
) -> None:
    server = start_sqlite_server(workers=0, fetch_timeout_seconds=4, fetches_per_key=4, fetch_threads=8)
    slow_key, other_key = server.other_key("slow"), server.other_key("other")

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30,
                                     headers={"Authorization": slow_key}) as client:
            return await asyncio.gather(*(
                client.post(f"/api/v3/{SEED_ROUTE}", json={"prompt": "zoom", "image": silent_host})
                for _ in range(12)
            ))

    outcome: list[list[httpx.Response]] = []
    runner = threading.Thread(target=lambda: outcome.append(asyncio.run(burst())))
    runner.start()
    time.sleep(1.0)
    # While the slow key's fetches hang: another key's uploads (threadpool work) and submits go on.
    started = time.monotonic()
    with httpx.Client(base_url=server.base_url, timeout=30, headers={"Authorization": other_key}) as other:
        for _ in range(5):
            upload = other.post("/api/v3/media/upload/binary", files={"file": ("a.png", image_bytes(640, 360))})
            assert upload.status_code == 200, upload.text
            submitted = other.post(f"/api/v3/{SEED_ROUTE}",
                                   json={"prompt": "zoom", "image": upload.json()["data"]["download_url"]})
            assert submitted.status_code == 200, submitted.text
    assert time.monotonic() - started < 3.0, "the other key was not made to wait for the slow fetches"
    runner.join(60)
    statuses = sorted(answer.status_code for answer in outcome[0])
    assert statuses.count(429) == 8 and statuses.count(400) == 4, statuses
    limited = next(answer for answer in outcome[0] if answer.status_code == 429)
    assert "fetching URLs at once; the limit is 4" in limited.json()["message"]
    assert limited.headers["Retry-After"]
    timed_out = next(answer for answer in outcome[0] if answer.status_code == 400)
    assert "did not finish within 4 seconds" in timed_out.json()["message"]
