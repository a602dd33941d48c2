"""reelserve started as the user starts it: the console script in a child process."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REELSERVE = str(Path(sys.executable).parent / "reelserve")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    def __init__(self, data_dir: Path, port: int, env: dict[str, str] | None = None, workers: int = 1) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = data_dir.parent / f"server-{port}-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [REELSERVE, "serve", "--port", str(port), "--data-dir", str(data_dir), "--workers", str(workers)],
            stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"reelserve exited early:\n{self.output()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"reelserve did not answer in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def first_key(self) -> str | None:
        match = re.search(r"^API key: (sk-[0-9a-f]+)$", self.output(), re.MULTILINE)
        return match.group(1) if match else None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        if not self._log.closed:
            self._log.close()
