"""The job lifecycle under numbers: what 1,000 open event streams cost the server, and a history page with a
million predictions in the database.

Streams: a `reelserve serve --workers 0` with 1,000 waiting jobs; the server's CPU and a poll's latency measured
with no stream open and with one stream open on each job, then the time for every stream to see its job
cancelled and end. History: a SQLite database of 1,000,000 predictions (made with SQL, the benchmark key's among
a thousand keys'), the history page's latency for the first page, a deep page and each filter.

    python bench/bench_lifecycle.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    SUBMIT_PATH,
    ReelserveServer,
    Target,
    cpu_seconds,
    machine_description,
    markdown_table,
    percentile,
    print_targets,
    progress,
    sample_image,
    write_json,
)

STREAM_TARGET_CPU_PERCENT = 10.0
"""1,000 idle streams may cost at most a tenth of a core."""
HISTORY_TARGET_MS = 50.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few streams and rows: a smoke test")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    streams = 50 if args.quick else 1000
    rows = 20_000 if args.quick else 1_000_000
    with tempfile.TemporaryDirectory() as scratch:
        stream_results = measure_streams(Path(scratch), streams, quiet_seconds=1.0 if args.quick else 8.0)
        history_results = measure_history(Path(scratch), rows)
    print(f"\n## {streams} open event streams\n")
    print(markdown_table(
        ["streams open", "server CPU", "poll p50 ms", "poll p99 ms"],
        [[count, f"{result['cpu_percent']:.1f}%", result["poll_p50_ms"], result["poll_p99_ms"]]
         for count, result in sorted(stream_results["idle"].items())],
    ))
    print(f"\nAll {streams} streams saw their job cancelled and ended within "
          f"{stream_results['fan_out_seconds']:.2f} s of the cancels.")
    print(f"\n## History with {rows:,} predictions (SQLite)\n")
    print(markdown_table(["page", "median ms", "p99 ms"],
                         [[name, result["median_ms"], result["p99_ms"]] for name, result in history_results.items()]))
    busiest = stream_results["idle"][streams]["cpu_percent"]
    slowest = max(result["p99_ms"] for result in history_results.values())
    targets = [
        Target(f"server CPU with {streams} idle streams open", f"{busiest:.1f}%",
               f"<= {STREAM_TARGET_CPU_PERCENT:.0f}%", busiest <= STREAM_TARGET_CPU_PERCENT),
        Target(f"slowest history page p99 with {rows:,} predictions", f"{slowest:.1f} ms",
               f"< {HISTORY_TARGET_MS:.0f} ms", slowest < HISTORY_TARGET_MS),
    ]
    print()
    print_targets(targets, args.quick)
    write_json(args.json, {"machine": machine_description(), "streams": stream_results, "history": history_results})


def measure_streams(scratch: Path, count: int, quiet_seconds: float) -> dict[str, Any]:
    server = ReelserveServer(scratch / "streams", workers=0, log_dir=scratch)
    try:
        return asyncio.run(_streams(server, count, quiet_seconds))
    finally:
        server.stop()


async def _streams(server: ReelserveServer, count: int, quiet_seconds: float) -> dict[str, Any]:
    headers = {"Authorization": server.api_key}
    # Idle connections are dropped before the server's keep-alive timeout (5 s) closes them under a reuse.
    limits = httpx.Limits(max_connections=count + 50, max_keepalive_connections=count + 50, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=120, limits=limits) as client:
        progress(f"streams: submitting {count} jobs")
        upload = await client.post("/api/v3/media/upload/binary", files={"file": ("a.png", sample_image())})
        body = {"prompt": "zoom in", "image": upload.json()["data"]["download_url"]}
        ids: list[str] = []
        for start in range(0, count, 50):
            batch = min(50, count - start)
            answers = await asyncio.gather(*(client.post(SUBMIT_PATH, json=body) for _ in range(batch)))
            ids += [answer.json()["data"]["id"] for answer in answers]
        idle = {0: await _quiet(server, client, ids[0], quiet_seconds)}
        progress(f"streams: opening {count}")
        opened = asyncio.Event()
        first_events = 0
        ended: list[float] = []

        async def follow(prediction_id: str) -> None:
            nonlocal first_events
            async with client.stream("GET", f"/api/v3/predictions/{prediction_id}/stream") as stream:
                async for line in stream.aiter_lines():
                    if line.startswith("data: ") and '"status":"created"' in line:
                        first_events += 1
                        if first_events == count:
                            opened.set()
            ended.append(time.monotonic())

        followers = [asyncio.create_task(follow(prediction_id)) for prediction_id in ids]
        await asyncio.wait_for(opened.wait(), 120)
        idle[count] = await _quiet(server, client, ids[0], quiet_seconds)
        progress("streams: cancelling every job")
        cancelled = time.monotonic()
        for start in range(0, count, 50):
            await asyncio.gather(*(client.post(f"/api/v3/predictions/{prediction_id}/cancel")
                                   for prediction_id in ids[start:start + 50]))
        await asyncio.wait_for(asyncio.gather(*followers), 120)
        return {"idle": idle, "fan_out_seconds": max(ended) - cancelled}


async def _quiet(
    server: ReelserveServer, client: httpx.AsyncClient, prediction_id: str, seconds: float
) -> dict[str, float]:
    """The server's CPU while nothing but the open streams is going on, then the latency of 200 polls."""
    await asyncio.sleep(0.5)
    before, started = cpu_seconds(server.pid), time.monotonic()
    await asyncio.sleep(seconds)
    cpu_percent = 100 * (cpu_seconds(server.pid) - before) / (time.monotonic() - started)
    latencies = []
    for _ in range(200):
        begun = time.perf_counter()
        answer = await client.get(f"/api/v3/predictions/{prediction_id}/result")
        latencies.append((time.perf_counter() - begun) * 1000)
        assert answer.status_code == 200, answer.text
    return {"cpu_percent": cpu_percent, "poll_p50_ms": statistics.median(latencies),
            "poll_p99_ms": percentile(latencies, 0.99)}


def measure_history(scratch: Path, rows: int) -> dict[str, dict[str, float]]:
    from reelserve.store.database import Database
    from reelserve.store.predictions import HistoryFilter, history_page

    progress(f"history: making {rows:,} predictions")
    database = Database(f"sqlite:///{scratch / 'history.db'}")
    database.migrate()
    mine = _fill(database, rows)
    deep = min(500, rows // 10 // 20 // 2)
    cases = {
        "first page": (HistoryFilter(mine), 0),
        f"page {deep}": (HistoryFilter(mine), (deep - 1) * 20),
        "by model": (HistoryFilter(mine, model="kwaivgi/kling-v2.6-std/image-to-video"), 0),
        "by status": (HistoryFilter(mine, status="failed"), 0),
        "by date": (HistoryFilter(mine, created_before=_day(180)), 0),
    }
    results = {}
    for name, (where, offset) in cases.items():
        times = []
        for _ in range(30):
            begun = time.perf_counter()
            found, _total, _more = history_page(database, where, offset, 20)
            times.append((time.perf_counter() - begun) * 1000)
            assert found, name
        results[name] = {"median_ms": statistics.median(times), "p99_ms": percentile(times, 0.99)}
    database.dispose()
    return results


def _day(day: int) -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day)


def _fill(database: Any, rows: int) -> str:
    """`rows` predictions over a year, a tenth of them the benchmark key's, the rest a thousand other keys'."""
    from sqlalchemy import text

    with database.write() as connection:
        connection.execute(text("INSERT INTO accounts (id, name, balance_micros, created_at) "
                                "VALUES ('acct', 'a', 0, '2026-01-01 00:00:00.000000')"))
        connection.execute(text(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
            "INSERT INTO api_keys (id, name, account_id, role, in_flight, key_hash, key_prefix, created_at) "
            "SELECT 'key' || i, 'k', 'acct', 'user', 0, 'hash' || i, 'sk-', '2026-01-01 00:00:00.000000' FROM n"
        ))
        connection.execute(text(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :rows - 1) "
            "INSERT INTO predictions (id, key_id, account_id, price_micros, model, status, params, inputs, outputs, "
            "has_nsfw_contents, progress, attempts, created_at, queue, priority, posters) "
            "SELECT printf('%032x', i), CASE WHEN i % 10 = 0 THEN 'key0' ELSE 'key' || (1 + i % 1000) END, 'acct', "
            "0, CASE i % 3 WHEN 0 THEN 'kwaivgi/kling-v2.5-turbo-std/image-to-video' "
            "WHEN 1 THEN 'kwaivgi/kling-v2.6-std/image-to-video' ELSE 'kwaivgi/kling-v3.0-std/image-to-video' END, "
            "CASE WHEN i % 17 = 0 THEN 'failed' ELSE 'completed' END, '{\"prompt\": \"p\"}', '{}', '[]', '[]', 100, "
            "1, strftime('%Y-%m-%d %H:%M:%f000', '2026-01-01', '+' || (i * 31.5) || ' seconds'), 'motion', 0, '[]' "
            "FROM n"
        ), {"rows": rows})
    return "key0"


if __name__ == "__main__":
    main()
