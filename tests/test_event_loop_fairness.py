"""No client stalls the others: while requests arrive that would be expensive to read or check (bodies of tens of
megabytes without a key, a few kilobytes of WebP that decode to tens of millions of pixels), another user's
polls are answered within 250 ms. Through a real `reelserve serve` process."""

from __future__ import annotations

import base64
import io
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from tests.conftest import SEED_ROUTE
from tests.support.images import image_bytes
from tests.support.process import ServerProcess, free_port

HUGE_BODY = b"{" + b" " * (30 * 1024 * 1024)
LATENCY_BOUND_SECONDS = 0.25
REPO = Path(__file__).resolve().parents[1]


def dense_webp(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (40, 90, 160)).save(out, format="WEBP", quality=5)
    return out.getvalue()


def keep_sending(stop: threading.Event, send: Callable[[httpx.Client], httpx.Response], seen: list[int]) -> None:
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            try:
                seen.append(send(client).status_code)
            except httpx.TransportError:
                seen.append(-1)  # refused before the body was read: the server closed while it was being sent


def poll_from_another_process(url: str, key: str, seconds: float) -> list[dict[str, Any]]:
    """The other user polls from a process of its own, so that the latencies are the server's, not this process's
    (its sending threads, its garbage collections over all the suite has loaded)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.poller", url, "--key", key, "--seconds", str(seconds)],
        cwd=REPO, capture_output=True, text=True, timeout=seconds + 60, check=True,
    )
    return json.loads(done.stdout)


def test_expensive_requests_do_not_stall_another_users_polls(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", free_port(), workers=0)
    try:
        admin = server.first_key()
        assert admin is not None
        base = server.base_url
        with httpx.Client(base_url=base, timeout=30, headers={"Authorization": admin}) as setup:
            keys = {
                name: setup.post(
                    "/admin/keys", json={"name": name, "balance": balance, "rpm": 100_000, "max_concurrency": 1000}
                ).json()["data"]["key"]
                for name, balance in (("victim", 10), ("poor", 0), ("rich", 100))
            }
            image = base64.b64encode(image_bytes(640, 360)).decode()
            waiting = setup.post(f"/api/v3/{SEED_ROUTE}", json={"prompt": "zoom", "image": image},
                                 headers={"Authorization": keys["victim"]}).json()["data"]["id"]
        webp = base64.b64encode(dense_webp(6000)).decode()
        assert len(webp) < 200_000, "a few kilobytes that decode to 36 million pixels"
        huge_webp_body = {"prompt": "zoom", "image": webp}
        attacks: dict[str, Callable[[httpx.Client], httpx.Response]] = {
            "admin": lambda c: c.post(f"{base}/admin/keys", content=HUGE_BODY),
            "pricing": lambda c: c.post(f"{base}/api/v3/model/pricing", content=HUGE_BODY),
            "ticket": lambda c: c.post(f"{base}/api/v3/media/uploads", content=HUGE_BODY),
            "multipart": lambda c: c.post(f"{base}/api/v3/media/upload/binary", files={"file": ("a.png", HUGE_BODY)}),
            "capped": lambda c: c.post(f"{base}/api/v3/model/pricing", content=HUGE_BODY,
                                       headers={"Authorization": keys["rich"]}),
            "no-balance-webp": lambda c: c.post(f"{base}/api/v3/{SEED_ROUTE}", json=huge_webp_body,
                                                headers={"Authorization": keys["poor"]}),
            "decoded-webp": lambda c: c.post(f"{base}/api/v3/{SEED_ROUTE}", json=huge_webp_body,
                                             headers={"Authorization": keys["rich"]}),
        }
        stop = threading.Event()
        seen: dict[str, list[int]] = {name: [] for name in attacks}
        threads = [threading.Thread(target=keep_sending, args=(stop, send, seen[name]), daemon=True)
                   for name, send in attacks.items()]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        polls = poll_from_another_process(f"{base}/api/v3/predictions/{waiting}/result", keys["victim"], seconds=4)
        stop.set()
        for thread in threads:
            thread.join(60)
        for name in ("admin", "pricing", "ticket", "multipart"):
            assert seen[name] and set(seen[name]) <= {401, -1}, (name, set(seen[name]))
        assert seen["capped"] and set(seen["capped"]) <= {400, -1}
        assert seen["no-balance-webp"] and set(seen["no-balance-webp"]) == {403}
        assert seen["decoded-webp"] and set(seen["decoded-webp"]) <= {200, 429}
        assert len(polls) >= 20 and {poll["status"] for poll in polls} == {200}
        slowest = max(polls, key=lambda poll: poll["latency"])
        median = statistics.median(poll["latency"] for poll in polls)
        assert slowest["latency"] < LATENCY_BOUND_SECONDS, (
            f"slowest poll {slowest['latency'] * 1000:.0f} ms, {slowest['at']:.1f} s in "
            f"(median {median * 1000:.0f} ms of {len(polls)})"
        )
    finally:
        server.stop()
