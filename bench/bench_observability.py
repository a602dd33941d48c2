"""What operating reelserve costs: result polling with Prometheus metrics and JSON logs on, side by side with
them off, and against a bare FastAPI echo.

Three servers run at once, each one uvicorn process: the echo app, reelserve with the defaults (`off`: no metrics,
plain text logs, access log on) and reelserve with REELSERVE_METRICS_TOKEN set and REELSERVE_LOG_FORMAT=json (`on`:
every request counted and timed by route template, one JSON access line per request), while a scraper reads its
/metrics once a second, as Prometheus would (more often than Prometheus' default 15 s). Both reelserve servers
run `--workers 0` on SQLite and write their logs to a file. Rounds alternate between the three so that noise on a
shared machine touches them alike; figures are medians over the rounds.
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx

import rounds
from bench_api import check_poll, submit_body, submit_once
from common import (
    LOOPBACK,
    EchoServer,
    ReelserveServer,
    Target,
    machine_description,
    markdown_table,
    print_targets,
    progress,
    sample_image,
    write_json,
)
from loadgen import encode_request
from rounds import Cell, Plan, cell

TOKEN = "bench-metrics-token-0123456789abcdef"
OBSERVED_ENV = {"REELSERVE_METRICS_TOKEN": TOKEN, "REELSERVE_LOG_FORMAT": "json"}
SERVERS = ("echo", "off", "on")
RATIO_CONCURRENCY = 16
COST_TARGET = 0.10
POLL_SHARE_TARGET = 0.70
SCRAPE_EVERY_SECONDS = 1.0


FULL = Plan(concurrencies=(16, 64), rounds=5, seconds=2.0, warmup_seconds=0.5, polled_predictions=64)
QUICK = Plan(concurrencies=(16,), rounds=1, seconds=0.4, warmup_seconds=0.1, polled_predictions=8)


class Scraper:
    """Reads a server's /metrics every `every` seconds while it is on, checking each answer."""

    def __init__(self, base_url: str, every: float) -> None:
        self.url = base_url + "/metrics"
        self.every = every
        self.scrapes = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def running(self) -> Iterator[None]:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join(10)

    def _loop(self) -> None:
        with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            while not self._stop.is_set():
                answer = client.get(self.url)
                self.scrapes += 1
                if answer.status_code != 200 or "reelserve_http_requests_total" not in answer.text:
                    self.failures += 1
                self._stop.wait(self.every)


def poll_requests(server: ReelserveServer, count: int) -> list[bytes]:
    body = submit_body(base64.b64encode(sample_image()).decode())
    ids = [submit_once(server, body) for _ in range(count)]
    check_poll(server, ids[0])
    host = f"{LOOPBACK}:{server.port}"
    return [encode_request("GET", f"/api/v3/predictions/{one}/result", host, {"Authorization": server.api_key})
            for one in ids]


def measure(plan: Plan, servers: dict[str, Any], requests: dict[str, list[bytes]], scraper: Scraper) -> list[Cell]:
    return rounds.measure(plan, [
        rounds.Workload(name, servers[name], requests[name], scraper.running if name == "on" else nullcontext)
        for name in SERVERS
    ])


def targets(cells: list[Cell]) -> list[Target]:
    on = cell(cells, "on", RATIO_CONCURRENCY).median("requests_per_second")
    off = cell(cells, "off", RATIO_CONCURRENCY).median("requests_per_second")
    echo = cell(cells, "echo", RATIO_CONCURRENCY).median("requests_per_second")
    cost = 1 - on / off
    return [
        Target(f"metrics and JSON logs cost of polling throughput at {RATIO_CONCURRENCY} connections", f"{cost:.1%}",
               f"<= {COST_TARGET:.0%}", cost <= COST_TARGET),
        Target(f"polling with metrics and JSON logs vs echo at {RATIO_CONCURRENCY} connections", f"{on / echo:.0%}",
               f">= {POLL_SHARE_TARGET:.0%}", on / echo >= POLL_SHARE_TARGET),
    ]


def report(cells: list[Cell], plan: Plan, scraper: Scraper) -> str:
    rows = []
    for concurrency in plan.concurrencies:
        off = cell(cells, "off", concurrency)
        echo = cell(cells, "echo", concurrency)
        for name in SERVERS:
            found = cell(cells, name, concurrency)
            rps = found.median("requests_per_second")
            rows.append((
                {"echo": "echo", "off": "poll, observability off", "on": "poll, metrics + JSON logs"}[name],
                concurrency, rps, found.median("p50_ms"), found.median("p99_ms"), sum(r.errors for r in found.rounds),
                f"{found.median('server_cpu_us_per_request'):,.0f}",
                "" if name == "echo" else f"{rps / echo.median('requests_per_second'):.0%}",
                "" if name != "on" else f"{rps / off.median('requests_per_second'):.0%}",
            ))
    table = markdown_table(("workload", "connections", "req/s", "p50 ms", "p99 ms", "errors", "server CPU µs/req",
                            "vs echo", "vs off"), rows)
    setup = (f"{plan.rounds} round(s) per row of {plan.warmup_seconds:g} s warm-up and {plan.seconds:g} s "
             f"measured, alternating between the servers; medians shown. Polling cycles over "
             f"{plan.polled_predictions} predictions. The `on` server was scraped {scraper.scrapes} times "
             f"({scraper.failures} failed) during its rounds.")
    return "\n\n".join([setup, table])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs, for the test suite")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL

    with tempfile.TemporaryDirectory(prefix="reelserve-bench-observability-") as scratch:
        scratch_dir = Path(scratch)
        progress("Observability cost: starting the echo app and two reelserve servers (--workers 0, SQLite)")
        started: dict[str, Any] = {}
        try:
            started["echo"] = EchoServer(scratch_dir)
            started["off"] = ReelserveServer(scratch_dir / "off", workers=0, log_dir=scratch_dir)
            (scratch_dir / "on-logs").mkdir()
            started["on"] = ReelserveServer(scratch_dir / "on", workers=0, log_dir=scratch_dir / "on-logs",
                                            env=OBSERVED_ENV)
            echo_body = json.dumps({"prompt": "slowly zoom in", "duration": 5}).encode()
            requests = {
                "echo": [encode_request("POST", "/echo", f"{LOOPBACK}:{started['echo'].port}",
                                        {"Content-Type": "application/json"}, echo_body)],
                "off": poll_requests(started["off"], plan.polled_predictions),
                "on": poll_requests(started["on"], plan.polled_predictions),
            }
            scraper = Scraper(started["on"].base_url, SCRAPE_EVERY_SECONDS)
            cells = measure(plan, started, requests, scraper)
            json_lines = check_json_log(started["on"])
        finally:
            for server in started.values():
                server.stop()

    found = targets(cells)
    markdown = report(cells, plan, scraper) + f"\n\nThe `on` server wrote {json_lines:,} JSON log lines, each parsed."
    print("## Observability cost\n")
    print(markdown)
    print()
    print_targets(found, args.quick)
    write_json(args.json, {
        "machine": machine_description(),
        "plan": {"rounds": plan.rounds, "seconds": plan.seconds, "concurrencies": list(plan.concurrencies)},
        "results": [{"server": item.workload, "concurrency": item.concurrency,
                     "requests_per_second": item.median("requests_per_second"), "p50_ms": item.median("p50_ms"),
                     "p99_ms": item.median("p99_ms"), "errors": sum(r.errors for r in item.rounds),
                     "server_cpu_us_per_request": item.median("server_cpu_us_per_request")} for item in cells],
        "scrapes": scraper.scrapes, "scrape_failures": scraper.failures, "json_log_lines": json_lines,
        "targets": [{"name": t.name, "measured": t.measured, "target": t.wanted, "passed": t.passed} for t in found],
        "markdown": markdown,
    })


def check_json_log(server: ReelserveServer) -> int:
    """The `on` server's standard error holds only JSON lines (its first key is printed on standard output, which
    the log file shares; that one line is left out)."""
    lines = [line for line in server.output().splitlines() if line and not line.startswith("API key: ")]
    for line in lines:
        json.loads(line)
    return len(lines)


if __name__ == "__main__":
    main()
