"""Shared by the benchmark scripts: server processes on loopback, process statistics, the test image,
percentiles and tables. The load generator lives in `loadgen.py`."""

from __future__ import annotations

import io
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
REELSERVE = Path(sys.executable).parent / "reelserve"
LOOPBACK = "127.0.0.1"
SEED_ROUTE = "kwaivgi/kling-v2.5-turbo-std/image-to-video"
SUBMIT_PATH = f"/api/v3/{SEED_ROUTE}"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The benchmark key may submit without end: the limit and balance checks still run on every submit,
# they only never refuse.
UNLIMITED_KEY_ENV = {
    "REELSERVE_DEFAULT_RPM": "1000000000",
    "REELSERVE_DEFAULT_MAX_CONCURRENCY": "1000000000",
    "REELSERVE_FIRST_KEY_BALANCE_USD": "1000000000",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


# --- process statistics, read from /proc ------------------------------------------------------------


def rss_kib(pid: int) -> int:
    return _status_field(pid, "VmRSS")


def peak_rss_kib(pid: int) -> int:
    """The kernel's high-water mark of the resident set since the process started."""
    return _status_field(pid, "VmHWM")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    return (user + system) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (all processes, all cores), from /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq = (int(value) for value in
                                                        Path("/proc/stat").read_text().split()[1:8])
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


def _status_field(pid: int, name: str) -> int:
    match = re.search(rf"^{name}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {name} for process {pid}")
    return int(match.group(1))


def mib(kib: float) -> float:
    return kib / 1024


# --- servers ----------------------------------------------------------------------------------------


class ServerProcess:
    """A server started as its user starts it, answering on a free loopback port."""

    def __init__(self, name: str, command: Sequence[str], port: int, log_dir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.port = port
        self.base_url = f"http://{LOOPBACK}:{port}"
        self.log_path = log_dir / f"{name}-{port}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            list(command), stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **env}, cwd=REPO_ROOT
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, health_path: str, timeout: float = 60) -> None:
        """Returns once `health_path` answers 200; stops the process and raises if it never does."""
        try:
            self._poll_health(health_path, timeout)
        except BaseException:
            self.stop()
            raise

    def _poll_health(self, health_path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.output()}")
            try:
                if httpx.get(self.base_url + health_path, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if not self._log.closed:
            self._log.close()


class ReelserveServer(ServerProcess):
    def __init__(self, data_dir: Path, workers: int, log_dir: Path, env: dict[str, str] | None = None) -> None:
        port = free_port()
        command = [str(REELSERVE), "serve", "--host", LOOPBACK, "--port", str(port), "--data-dir", str(data_dir),
                   "--workers", str(workers)]
        super().__init__(f"reelserve-w{workers}", command, port, log_dir, {**UNLIMITED_KEY_ENV, **(env or {})})
        self.wait_ready("/healthz")
        match = re.search(r"^API key: (sk-\S+)$", self.output(), re.MULTILINE)
        if match is None:
            output = self.output()
            self.stop()
            raise RuntimeError(f"reelserve printed no first API key (is the data directory new?):\n{output}")
        self.api_key = match.group(1)


class EchoServer(ServerProcess):
    def __init__(self, log_dir: Path) -> None:
        port = free_port()
        command = [sys.executable, str(BENCH_DIR / "echo_app.py"), "--port", str(port)]
        super().__init__("echo", command, port, log_dir, {})
        self.wait_ready("/healthz")


# --- the input image --------------------------------------------------------------------------------


def sample_image(width: int = 320, height: int = 320, image_format: str = "PNG") -> bytes:
    """A smooth, photo-like image; the default is just above reelserve's 300 px minimum and small on the wire."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    red = 128 + 100 * np.sin(x / 37.0) * np.cos(y / 53.0)
    green = 255 * x / (width - 1)
    blue = 255 * y / (height - 1)
    pixels = np.clip(np.stack([red, green, blue], axis=-1), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format=image_format)
    return buffer.getvalue()


# --- numbers and tables -----------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def linear_fit(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope of y over x, and its standard error (infinite with fewer than three points)."""
    count = len(points)
    mean_x = sum(x for x, _ in points) / count
    mean_y = sum(y for _, y in points) / count
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0, float("inf")
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    if count < 3:
        return slope, float("inf")
    residuals = sum((y - mean_y - slope * (x - mean_x)) ** 2 for x, y in points)
    return slope, (residuals / (count - 2) / spread) ** 0.5


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(header) for header in headers], *[[_cell(value) for value in row] for row in rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = ["| " + " | ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)) + " |"
             for row in cells]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    wanted: str
    passed: bool

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.measured} (target {self.wanted})"


def print_targets(targets: Sequence[Target], quick: bool) -> None:
    if quick:
        print("Quick mode: the runs are too short for these verdicts to mean anything.")
    for target in targets:
        print(target.line())


def machine_description() -> dict[str, str]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        model = match.group(1).strip() if match else model
    return {
        "cpus": str(os.cpu_count()),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def write_json(path: Path | None, payload: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2))


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
