"""API overhead: reelserve's submit and result polling against a bare FastAPI echo, side by side.

Both servers run as one uvicorn process each; one load generator process drives them in turn at each
concurrency, in short rounds that alternate between the workloads so that noise on a shared machine
touches all of them alike. Each figure is the median over the rounds. reelserve runs the embedded
default (SQLite) with `--workers 0`, so only the API path is measured.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

import rounds
from common import (
    LOOPBACK,
    SUBMIT_PATH,
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

SUBMIT_UPLOADED = "submit-upload"
SUBMIT_INLINE = "submit-inline"
WORKLOADS = ("echo", SUBMIT_UPLOADED, SUBMIT_INLINE, "poll")
UPLOAD_PATH = "/api/v3/media/upload/binary"
RATIO_CONCURRENCY = 16
SUBMIT_SHARE_TARGET = 0.20
POLL_SHARE_TARGET = 0.70
SUBMIT_P99_TARGET_MS = 50.0
SUBMIT_P99_CONCURRENCY = 64
BUSY_MACHINE_PERCENT = 25.0
PROMPT = "slowly zoom in on the cat"


FULL = Plan(concurrencies=(1, 16, 64), rounds=3, seconds=2.0, warmup_seconds=0.5, polled_predictions=64)
QUICK = Plan(concurrencies=(1, 16, 64), rounds=1, seconds=0.4, warmup_seconds=0.1, polled_predictions=8)


@dataclass(frozen=True)
class Workload:
    name: str
    server: str
    requests: list[bytes]
    body_bytes: int


def build_workloads(echo: EchoServer, reelserve: ReelserveServer, polled_predictions: int) -> dict[str, Workload]:
    """echo, the submits (with an uploaded image where the server takes uploads, and inline), and polling."""
    image = sample_image()
    inline_body = submit_body(base64.b64encode(image).decode())
    echo_body = json.dumps({"prompt": PROMPT, "duration": 5}).encode()
    auth = {"Authorization": reelserve.api_key}
    json_type = {"Content-Type": "application/json"}
    reelserve_host = f"{LOOPBACK}:{reelserve.port}"

    check_echo(echo, echo_body)
    prediction_ids = [submit_once(reelserve, inline_body) for _ in range(polled_predictions)]
    check_poll(reelserve, prediction_ids[0])
    workloads = [
        Workload("echo", "echo", [encode_request("POST", "/echo", f"{LOOPBACK}:{echo.port}", json_type, echo_body)],
                 len(echo_body)),
    ]
    upload_url = upload_image(reelserve, image)
    if upload_url is not None:
        uploaded_body = submit_body(upload_url)
        submit_once(reelserve, uploaded_body)
        workloads.append(Workload(
            SUBMIT_UPLOADED, "reelserve",
            [encode_request("POST", SUBMIT_PATH, reelserve_host, {**auth, **json_type}, uploaded_body)],
            len(uploaded_body),
        ))
    workloads.append(Workload(
        SUBMIT_INLINE, "reelserve",
        [encode_request("POST", SUBMIT_PATH, reelserve_host, {**auth, **json_type}, inline_body)], len(inline_body),
    ))
    polls = [
        encode_request("GET", f"/api/v3/predictions/{prediction_id}/result", reelserve_host, auth)
        for prediction_id in prediction_ids
    ]
    workloads.append(Workload("poll", "reelserve", polls, 0))
    return {workload.name: workload for workload in workloads}


def submit_body(image: str) -> bytes:
    return json.dumps({"prompt": PROMPT, "image": image, "duration": 5}).encode()


def upload_image(reelserve: ReelserveServer, image: bytes) -> str | None:
    """The image's download URL after a one-step upload; None where the server has no upload endpoint."""
    answer = httpx.post(
        reelserve.base_url + UPLOAD_PATH, files={"file": ("bench.png", image, "image/png")},
        headers={"Authorization": reelserve.api_key}, timeout=30,
    )
    if answer.status_code in (404, 405):
        return None
    if answer.status_code != 200:
        raise RuntimeError(f"upload answered {answer.status_code}: {answer.text[:500]}")
    return str(answer.json()["data"]["download_url"])


def check_echo(echo: EchoServer, body: bytes) -> None:
    answer = httpx.post(echo.base_url + "/echo", content=body, headers={"Content-Type": "application/json"})
    if answer.status_code != 200 or answer.json() != json.loads(body):
        raise RuntimeError(f"the echo app answered {answer.status_code}: {answer.text[:200]}")


def submit_once(reelserve: ReelserveServer, body: bytes) -> str:
    answer = httpx.post(
        reelserve.base_url + SUBMIT_PATH, content=body,
        headers={"Authorization": reelserve.api_key, "Content-Type": "application/json"}, timeout=30,
    )
    if answer.status_code != 200:
        raise RuntimeError(f"submit answered {answer.status_code}: {answer.text[:500]}")
    return str(answer.json()["data"]["id"])


def check_poll(reelserve: ReelserveServer, prediction_id: str) -> None:
    answer = httpx.get(
        f"{reelserve.base_url}/api/v3/predictions/{prediction_id}/result",
        headers={"Authorization": reelserve.api_key},
    )
    if answer.status_code != 200 or answer.json()["data"]["status"] != "created":
        raise RuntimeError(f"polling answered {answer.status_code}: {answer.text[:500]}")


def measure(plan: Plan, workloads: dict[str, Workload], servers: dict[str, EchoServer | ReelserveServer]) -> list[
    Cell
]:
    return rounds.measure(plan, [
        rounds.Workload(name, servers[workload.server], workload.requests) for name, workload in workloads.items()
    ])


def measured_submit(cells: list[Cell]) -> str:
    """The submit the targets judge: with an uploaded image, as the issue asks, where the server takes uploads."""
    return SUBMIT_UPLOADED if any(found.workload == SUBMIT_UPLOADED for found in cells) else SUBMIT_INLINE


def results_table(cells: list[Cell]) -> str:
    rows = []
    for found in sorted(cells, key=lambda item: (WORKLOADS.index(item.workload), item.concurrency)):
        rows.append((
            found.workload, found.concurrency, found.requests_per_second, found.p50_ms, found.p99_ms, found.errors,
            f"{found.median('server_cpu_us_per_request'):,.0f}",
            f"{found.median('server_cpu_percent'):.0f}%",
            f"{found.median('client_cpu_percent'):.0f}%",
            f"{found.median('other_cpu_percent'):.0f}%",
        ))
    headers = ("workload", "connections", "req/s", "p50 ms", "p99 ms", "errors", "server CPU µs/req", "server CPU",
               "load gen CPU", "other CPU")
    return markdown_table(headers, rows)


def ratios_table(cells: list[Cell], concurrencies: tuple[int, ...]) -> str:
    rows = []
    for name in WORKLOADS[1:]:
        if not any(found.workload == name for found in cells):
            continue
        pairs = [(cell(cells, name, concurrency), cell(cells, "echo", concurrency)) for concurrency in concurrencies]
        rows.append([
            name,
            *(f"{found.requests_per_second / echo.requests_per_second:.0%}" for found, echo in pairs),
            *(f"{found.p99_ms / echo.p99_ms:.1f}x" for found, echo in pairs),
        ])
    headers = ["vs echo", *(f"req/s at {c}" for c in concurrencies), *(f"p99 at {c}" for c in concurrencies)]
    return markdown_table(headers, rows)


def targets(cells: list[Cell]) -> list[Target]:
    submit = measured_submit(cells)
    echo = cell(cells, "echo", RATIO_CONCURRENCY).requests_per_second
    submit_share = cell(cells, submit, RATIO_CONCURRENCY).requests_per_second / echo
    poll_share = cell(cells, "poll", RATIO_CONCURRENCY).requests_per_second / echo
    submit_p99 = cell(cells, submit, SUBMIT_P99_CONCURRENCY).p99_ms
    return [
        Target(f"{submit} throughput vs echo at {RATIO_CONCURRENCY} connections", f"{submit_share:.0%}",
               f">= {SUBMIT_SHARE_TARGET:.0%}", submit_share >= SUBMIT_SHARE_TARGET),
        Target(f"polling throughput vs echo at {RATIO_CONCURRENCY} connections", f"{poll_share:.0%}",
               f">= {POLL_SHARE_TARGET:.0%}", poll_share >= POLL_SHARE_TARGET),
        Target(f"{submit} p99 latency at {SUBMIT_P99_CONCURRENCY} connections", f"{submit_p99:.1f} ms",
               f"< {SUBMIT_P99_TARGET_MS:.0f} ms", submit_p99 < SUBMIT_P99_TARGET_MS),
    ]


def notes(cells: list[Cell]) -> list[str]:
    results = [result for found in cells for result in found.rounds]
    busiest = max(results, key=lambda result: result.client_cpu_percent)
    said = [
        f"Load generator: at most {busiest.client_cpu_percent:.0f}% of one core, about "
        f"{busiest.client_cpu_us_per_request:.0f} µs of CPU per request; "
        + ("it had CPU to spare, so the servers were the limit."
           if busiest.client_cpu_percent < 90 else "WARNING: it may have been the limit.")
    ]
    others = statistics.median(result.other_cpu_percent for result in results)
    if others > BUSY_MACHINE_PERCENT:
        said.append(f"WARNING: other processes used a median {others:.0f}% CPU during the rounds; absolute figures "
                    "are low, ratios measured side by side still hold.")
    return said


def as_json(cells: list[Cell], workloads: dict[str, Workload], plan: Plan, found: list[Target],
            markdown: str) -> dict[str, Any]:
    return {
        "machine": machine_description(),
        "plan": {"rounds": plan.rounds, "seconds": plan.seconds, "warmup_seconds": plan.warmup_seconds,
                 "concurrencies": list(plan.concurrencies)},
        "body_bytes": {name: workload.body_bytes for name, workload in workloads.items()},
        "results": [
            {"workload": item.workload, "concurrency": item.concurrency,
             "requests_per_second": item.requests_per_second, "p50_ms": item.p50_ms, "p99_ms": item.p99_ms,
             "errors": item.errors,
             "rounds": [{"requests_per_second": result.requests_per_second, "p50_ms": result.p50_ms,
                         "p99_ms": result.p99_ms, "statuses": result.statuses,
                         "server_cpu_percent": result.server_cpu_percent,
                         "server_cpu_us_per_request": result.server_cpu_us_per_request,
                         "client_cpu_percent": result.client_cpu_percent,
                         "other_cpu_percent": result.other_cpu_percent} for result in item.rounds]}
            for item in cells
        ],
        "targets": [{"name": t.name, "measured": t.measured, "target": t.wanted, "passed": t.passed} for t in found],
        "markdown": markdown,
    }


def report(cells: list[Cell], workloads: dict[str, Workload], plan: Plan) -> str:
    inline = workloads[SUBMIT_INLINE]
    if SUBMIT_UPLOADED in workloads:
        image = (f"`{SUBMIT_UPLOADED}` sends the URL of a 320x320 PNG uploaded once before the runs "
                 f"({workloads[SUBMIT_UPLOADED].body_bytes:,} byte body); `{SUBMIT_INLINE}` sends the PNG itself "
                 f"({inline.body_bytes:,} byte body).")
    else:
        image = (f"This server has no upload endpoint, so the submit sends a 320x320 PNG inline as base64 "
                 f"({inline.body_bytes:,} byte body).")
    setup = (
        "One uvicorn process per server (httptools, access log on; reelserve on asyncio's loop, as "
        "`reelserve serve` runs it, the echo on uvicorn's default, uvloop); "
        f"{plan.rounds} round(s) per row of {plan.warmup_seconds:g} s warm-up and {plan.seconds:g} s measured, "
        f"medians shown. {image} Either way nothing is fetched, and reading, decoding and checking the image "
        f"are part of each submit. Echo body: {workloads['echo'].body_bytes} bytes of JSON, answered back. "
        f"Polling cycles over {len(workloads['poll'].requests)} predictions."
    )
    return "\n\n".join([setup, results_table(cells), ratios_table(cells, plan.concurrencies), *notes(cells)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs, for the test suite")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL

    with tempfile.TemporaryDirectory(prefix="reelserve-bench-api-") as scratch:
        scratch_dir = Path(scratch)
        progress("API overhead: starting the echo app and reelserve (--workers 0, SQLite)")
        echo = EchoServer(scratch_dir)
        try:
            reelserve = ReelserveServer(scratch_dir / "data", workers=0, log_dir=scratch_dir)
        except BaseException:
            echo.stop()
            raise
        try:
            workloads = build_workloads(echo, reelserve, plan.polled_predictions)
            cells = measure(plan, workloads, {"echo": echo, "reelserve": reelserve})
        finally:
            reelserve.stop()
            echo.stop()

    found = targets(cells)
    markdown = report(cells, workloads, plan)
    print("## API overhead\n")
    print(markdown)
    print()
    print_targets(found, args.quick)
    write_json(args.json, as_json(cells, workloads, plan, found, markdown))


if __name__ == "__main__":
    main()
