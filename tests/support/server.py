"""A real reelserve running under uvicorn on 127.0.0.1, in a thread of the test process."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from reelserve.api.app import create_app
from reelserve.api.connections import ReelserveServer, uvicorn_config
from reelserve.config import Settings
from reelserve.runtime import Runtime, build_runtime
from reelserve.service.keys import KeyLimits

ROOMY = KeyLimits(rpm=100_000, max_concurrency=1_000)


@dataclass
class RunningServer:
    base_url: str
    runtime: Runtime
    key: str
    client: httpx.Client

    def other_key(self, name: str = "other", balance_usd: str = "1000", limits: KeyLimits = ROOMY) -> str:
        return self.runtime.keys.create(name, balance_usd=balance_usd, limits=limits).secret

    def submit(self, route: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        headers = {"Authorization": key} if key else None
        return self.client.post(f"/api/v3/{route}", json=body, headers=headers)

    def wait(self, prediction_id: str, timeout: float = 120.0, key: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": key} if key else None
        deadline = time.monotonic() + timeout
        while True:
            response = self.client.get(f"/api/v3/predictions/{prediction_id}/result", headers=headers)
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            if data["status"] in ("completed", "failed"):
                return data
            if time.monotonic() > deadline:
                raise AssertionError(f"prediction {prediction_id} still {data['status']} after {timeout} s")
            time.sleep(0.1)


class ServerThread:
    def __init__(self, settings: Settings) -> None:
        self.runtime = build_runtime(settings)
        # The configuration `reelserve serve` uses: the same connection deadlines and proxy trust.
        config = uvicorn_config(create_app(runtime=self.runtime), settings, host="127.0.0.1", port=0,
                                log_level="warning")
        self.server = ReelserveServer(config, on_stopping=self.runtime.changes.close)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("reelserve did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        base_url = f"http://127.0.0.1:{port}"
        key = self.runtime.keys.create("test", balance_usd="1000", limits=ROOMY).secret
        client = httpx.Client(base_url=base_url, headers={"Authorization": key}, timeout=120)
        return RunningServer(base_url=base_url, runtime=self.runtime, key=key, client=client)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)
