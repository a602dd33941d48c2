"""Memory: reelserve's resident set idle, while the motion engine works, after 100 predictions, and a
leak check across 2,000 predictions after a warm-up of 2,500. The bare FastAPI echo app, idle, is the reference.

RSS is read from /proc: VmRSS now, and VmHWM, the kernel's high-water mark since the process started,
so a peak between two samples is not missed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from common import (
    SUBMIT_PATH,
    EchoServer,
    ReelserveServer,
    Target,
    linear_fit,
    machine_description,
    markdown_table,
    mib,
    peak_rss_kib,
    print_targets,
    progress,
    rss_kib,
    sample_image,
    write_json,
)

FINISHED = ("completed", "failed")
IDLE_SETTLE_SECONDS = 1.0
SAMPLE_INTERVAL_SECONDS = 0.02
# RSS wanders by a few MiB as allocator arenas fill and trim, so a leak shows as a trend, not a step:
# the least-squares slope after warm-up must stay under these. The API's warm-up is long: its C-side
# memory (SQLite page caches, one per pooled connection, and allocator arenas) fills for ~2,500
# predictions while the Python heap is flat after ~1,000 (tracemalloc).
LEAK_LIMIT_KIB_PER_100 = 256
ENGINE_LEAK_LIMIT_KIB_PER_PREDICTION = 1024


@dataclass(frozen=True)
class Plan:
    engine_predictions: int
    engine_checkpoint_every: int
    leak_predictions: int
    leak_batch: int
    leak_warmup: int
    leak_rows_every: int
    concurrency: int


FULL = Plan(engine_predictions=100, engine_checkpoint_every=10, leak_predictions=4500, leak_batch=100,
            leak_warmup=2500, leak_rows_every=500, concurrency=16)
QUICK = Plan(engine_predictions=3, engine_checkpoint_every=1, leak_predictions=100, leak_batch=20,
             leak_warmup=40, leak_rows_every=20, concurrency=8)


class RssSampler:
    """Samples a process's RSS in a background thread, as (monotonic time, KiB)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL_SECONDS):
            self.samples.append((time.monotonic(), rss_kib(self.pid)))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def low_and_high(self, since: float, until: float) -> tuple[int, int]:
        window = [kib for at, kib in self.samples if since <= at <= until] or [rss_kib(self.pid)]
        return min(window), max(window)


@dataclass(frozen=True)
class EngineCheckpoint:
    """RSS while the predictions since the previous checkpoint ran: its low (between frames and jobs)
    and its high (a clip in flight)."""

    completed: int
    low_kib: int
    high_kib: int


@dataclass
class EngineRun:
    idle_kib: int
    submit_burst_peak_kib: int = 0
    working_peak_kib: int = 0
    overall_peak_kib: int = 0
    after_kib: int = 0
    checkpoints: list[EngineCheckpoint] = field(default_factory=list)
    failed: int = 0
    seconds: float = 0.0


@dataclass
class LeakRun:
    idle_kib: int
    checkpoints: list[tuple[int, int]] = field(default_factory=list)
    seconds: float = 0.0


def submit_body(image: bytes, duration: int) -> bytes:
    return json.dumps(
        {"prompt": "slowly zoom in", "image": base64.b64encode(image).decode(), "duration": duration}
    ).encode()


async def submit(client: httpx.AsyncClient, body: bytes) -> str:
    answer = await client.post(SUBMIT_PATH, content=body, headers={"Content-Type": "application/json"})
    if answer.status_code != 200:
        raise RuntimeError(f"submit answered {answer.status_code}: {answer.text[:500]}")
    return str(answer.json()["data"]["id"])


async def status_of(client: httpx.AsyncClient, prediction_id: str) -> str:
    answer = await client.get(f"/api/v3/predictions/{prediction_id}/result")
    if answer.status_code != 200:
        raise RuntimeError(f"polling answered {answer.status_code}: {answer.text[:500]}")
    return str(answer.json()["data"]["status"])


async def bounded(concurrency: int, jobs: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Any) -> Any:
        async with gate:
            return await job

    return list(await asyncio.gather(*(one(job) for job in jobs)))


def client_for(server: ReelserveServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": server.api_key}, timeout=120,
        limits=httpx.Limits(max_connections=64),
    )


def settled_rss(pid: int) -> int:
    time.sleep(IDLE_SETTLE_SECONDS)
    return rss_kib(pid)


async def run_engine(server: ReelserveServer, plan: Plan) -> EngineRun:
    """Predictions made by the motion engine (one in-process worker, 3 s clips), RSS sampled throughout."""
    run = EngineRun(idle_kib=settled_rss(server.pid))
    body = submit_body(sample_image(1920, 1080, "JPEG"), duration=3)
    started = time.monotonic()
    async with client_for(server) as client:
        with RssSampler(server.pid) as sampler:
            ids = await bounded(plan.concurrency, [submit(client, body) for _ in range(plan.engine_predictions)])
            burst_end = time.monotonic()
            pending = list(ids)
            done = 0
            window_start = burst_end
            while pending:
                await asyncio.sleep(0.25)
                statuses = await bounded(plan.concurrency, [status_of(client, pid) for pid in pending])
                finished = [status for status in statuses if status in FINISHED]
                pending = [pid for pid, status in zip(pending, statuses, strict=True) if status not in FINISHED]
                if not finished:
                    continue
                run.failed += finished.count("failed")
                crossed = (done + len(finished)) // plan.engine_checkpoint_every > done // plan.engine_checkpoint_every
                done += len(finished)
                if crossed or not pending:
                    low, high = sampler.low_and_high(window_start, time.monotonic())
                    run.checkpoints.append(EngineCheckpoint(done, low, high))
                    window_start = time.monotonic()
                    progress(f"  motion engine: {done}/{len(ids)} predictions, RSS {mib(low):.0f}-{mib(high):.0f} MiB")
    finished_at = time.monotonic()
    run.seconds = finished_at - started
    run.submit_burst_peak_kib = sampler.low_and_high(started, burst_end)[1]
    run.working_peak_kib = sampler.low_and_high(burst_end, finished_at)[1]
    # VmHWM is updated lazily by the kernel, so a sample can exceed it by a little.
    run.overall_peak_kib = max(run.submit_burst_peak_kib, run.working_peak_kib, peak_rss_kib(server.pid))
    run.after_kib = settled_rss(server.pid)
    return run


async def run_leak_check(server: ReelserveServer, plan: Plan) -> LeakRun:
    """Submit and poll in batches through the API alone (--workers 0); RSS after each batch."""
    run = LeakRun(idle_kib=settled_rss(server.pid))
    body = submit_body(sample_image(), duration=5)
    started = time.monotonic()
    async with client_for(server) as client:
        for done in range(plan.leak_batch, plan.leak_predictions + 1, plan.leak_batch):
            ids = await bounded(plan.concurrency, [submit(client, body) for _ in range(plan.leak_batch)])
            await bounded(plan.concurrency, [status_of(client, pid) for pid in ids])
            run.checkpoints.append((done, rss_kib(server.pid)))
            if done % plan.leak_rows_every == 0:
                progress(f"  leak check: {done}/{plan.leak_predictions} predictions, "
                         f"RSS {mib(run.checkpoints[-1][1]):.1f} MiB")
    run.seconds = time.monotonic() - started
    return run


@dataclass(frozen=True)
class LeakVerdict:
    """RSS trend over the predictions after warm-up, in KiB per 100 predictions, with its standard error."""

    first: int
    last: int
    slope_kib_per_100: float
    stderr_kib_per_100: float

    @property
    def flat(self) -> bool:
        return self.slope_kib_per_100 <= LEAK_LIMIT_KIB_PER_100


def leak_verdict(run: LeakRun, plan: Plan) -> LeakVerdict:
    measured = [(count, kib) for count, kib in run.checkpoints if count >= plan.leak_warmup]
    slope, stderr = linear_fit(measured)
    return LeakVerdict(measured[0][0], measured[-1][0], slope * 100, stderr * 100)


def engine_late_growth(run: EngineRun) -> tuple[float, float]:
    """KiB per prediction by which the RSS low trends over the second half of the engine run, and its error."""
    late = run.checkpoints[len(run.checkpoints) // 2:]
    return linear_fit([(checkpoint.completed, checkpoint.low_kib) for checkpoint in late])


def memory_table(echo_idle: tuple[int, int], engine: EngineRun, leak: LeakRun, plan: Plan) -> str:
    count = plan.engine_predictions
    rows = [
        ("bare FastAPI echo app, idle (reference)", echo_idle[0]),
        ("reelserve --workers 1, idle after start", engine.idle_kib),
        (f"reelserve peak while {count} predictions are submitted, {plan.concurrency} at a time "
         "(1920x1080 JPEG each; the worker has started)", engine.submit_burst_peak_kib),
        ("reelserve peak while the motion engine works through them (3 s 1280x720 clips, after the submits)",
         engine.working_peak_kib),
        (f"reelserve after {count} predictions, idle again", engine.after_kib),
        ("reelserve peak over the whole run (VmHWM)", engine.overall_peak_kib),
        ("reelserve --workers 0, idle after start", leak.idle_kib),
        (f"reelserve --workers 0 after {plan.leak_predictions:,} submits and polls", leak.checkpoints[-1][1]),
    ]
    return markdown_table(("server state", "RSS MiB"), [(state, f"{mib(kib):.1f}") for state, kib in rows])


def engine_checkpoints_table(checkpoints: list[EngineCheckpoint]) -> str:
    rows = [(checkpoint.completed, f"{mib(checkpoint.low_kib):.1f}", f"{mib(checkpoint.high_kib):.1f}")
            for checkpoint in checkpoints]
    return markdown_table(("predictions completed", "RSS low MiB", "RSS high MiB"), rows)


def checkpoints_table(checkpoints: list[tuple[int, int]], label: str, every: int) -> str:
    rows = []
    previous: int | None = None
    for count, kib in checkpoints:
        if count % every:
            continue
        rows.append((count, f"{mib(kib):.1f}", "" if previous is None else f"{kib - previous:+,} KiB"))
        previous = kib
    return markdown_table((label, "RSS MiB", "growth since previous row"), rows)


def targets(engine: EngineRun, leak: LeakRun, plan: Plan) -> list[Target]:
    verdict = leak_verdict(leak, plan)
    engine_slope, engine_stderr = engine_late_growth(engine)
    return [
        Target(
            f"API does not grow across {verdict.last - verdict.first:,} predictions after {verdict.first:,} of warm-up",
            f"RSS trend {verdict.slope_kib_per_100:+,.0f} ± {verdict.stderr_kib_per_100:,.0f} KiB per 100 predictions",
            f"<= {LEAK_LIMIT_KIB_PER_100} KiB per 100", verdict.flat,
        ),
        Target(
            f"motion-engine server does not grow over the last half of {plan.engine_predictions} predictions",
            f"RSS low trend {engine_slope:+,.0f} ± {engine_stderr:,.0f} KiB per prediction",
            f"<= {ENGINE_LEAK_LIMIT_KIB_PER_PREDICTION} KiB per prediction (one leaked 1280x720 frame is 2,700 KiB)",
            engine_slope <= ENGINE_LEAK_LIMIT_KIB_PER_PREDICTION,
        ),
        Target(f"all {plan.engine_predictions} motion-engine predictions completed", f"{engine.failed} failed",
               "0 failed", engine.failed == 0),
    ]


def measure(plan: Plan) -> tuple[tuple[int, int], EngineRun, LeakRun]:
    with tempfile.TemporaryDirectory(prefix="reelserve-bench-memory-") as scratch:
        scratch_dir = Path(scratch)
        progress("Memory: the echo app idle, for reference")
        echo = EchoServer(scratch_dir)
        try:
            echo_idle = (settled_rss(echo.pid), peak_rss_kib(echo.pid))
        finally:
            echo.stop()

        progress(f"Memory: reelserve --workers 1, {plan.engine_predictions} motion-engine predictions")
        server = ReelserveServer(scratch_dir / "engine-data", workers=1, log_dir=scratch_dir)
        try:
            engine = asyncio.run(run_engine(server, plan))
        finally:
            server.stop()

        progress(f"Memory: reelserve --workers 0, leak check across {plan.leak_predictions:,} predictions "
                 f"({plan.leak_warmup} of warm-up)")
        server = ReelserveServer(scratch_dir / "leak-data", workers=0, log_dir=scratch_dir)
        try:
            leak = asyncio.run(run_leak_check(server, plan))
        finally:
            server.stop()
    return echo_idle, engine, leak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few predictions, for the test suite")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL

    echo_idle, engine, leak = measure(plan)
    found = targets(engine, leak, plan)
    markdown = "\n\n".join([
        memory_table(echo_idle, engine, leak, plan),
        f"RSS across the motion-engine run ({engine.seconds:.0f} s for {plan.engine_predictions} predictions, "
        f"one worker; low and high of samples every {SAMPLE_INTERVAL_SECONDS * 1000:.0f} ms since the previous "
        "row):",
        engine_checkpoints_table(engine.checkpoints),
        f"Leak check through the API (--workers 0, {plan.concurrency} concurrent clients, each prediction "
        f"submitted then polled, {leak.seconds:.0f} s). RSS is read after every {plan.leak_batch} predictions; the "
        f"first {plan.leak_warmup:,} are warm-up and the trend is fitted to the rest:",
        checkpoints_table(leak.checkpoints, "predictions submitted and polled", plan.leak_rows_every),
    ])
    print("## Memory\n")
    print(markdown)
    print()
    print_targets(found, args.quick)
    write_json(args.json, {
        "machine": machine_description(),
        "echo_idle_kib": echo_idle[0],
        "engine": asdict(engine),
        "leak": asdict(leak),
        "targets": [{"name": t.name, "measured": t.measured, "target": t.wanted, "passed": t.passed}
                    for t in found],
        "markdown": markdown,
    })


if __name__ == "__main__":
    main()
