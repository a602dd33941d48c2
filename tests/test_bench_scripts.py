"""The benchmark scripts themselves work: `make bench`'s driver runs the API, memory and observability benchmarks in
their quick mode, and each prints its tables and verdicts and writes sane numbers. No timing target is
asserted here: CI machines vary. (bench_motion.py has its own test.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out_dir = tmp_path_factory.mktemp("bench")
    finished = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--quick", "--only", "api", "memory", "observability",
         "--out-dir", str(out_dir), "--markdown", str(out_dir / "results.md")],
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout, out_dir


def load(out_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((out_dir / f"{name}.json").read_text())


def test_api_benchmark_prints_its_tables_and_targets(quick_run: tuple[str, Path]) -> None:
    stdout, _ = quick_run
    assert "## API overhead" in stdout
    assert "| workload" in stdout and "| vs echo" in stdout
    for target in ("throughput vs echo at 16 connections", "polling throughput vs echo at 16 connections",
                   "p99 latency at 64 connections"):
        assert any(target in line and line.startswith(("PASS", "FAIL")) for line in stdout.splitlines()), target


def test_api_benchmark_numbers_are_sane(quick_run: tuple[str, Path]) -> None:
    results = load(quick_run[1], "api")
    workloads = {row["workload"] for row in results["results"]}
    assert {"echo", "submit-inline", "poll"} <= workloads
    assert {row["concurrency"] for row in results["results"]} == {1, 16, 64}
    for row in results["results"]:
        name = f"{row['workload']} x{row['concurrency']}"
        assert row["errors"] == 0, name
        assert row["requests_per_second"] > 0, name
        assert 0 < row["p50_ms"] <= row["p99_ms"] < 60_000, name
        assert all(set(one["statuses"]) == {"200"} for one in row["rounds"]), name
    assert len(results["targets"]) == 3
    assert all(isinstance(target["passed"], bool) for target in results["targets"])


def test_memory_benchmark_prints_its_tables_and_numbers_are_sane(quick_run: tuple[str, Path]) -> None:
    stdout, out_dir = quick_run
    assert "## Memory" in stdout and "| server state" in stdout
    assert "API does not grow across" in stdout
    results = load(out_dir, "memory")
    engine, leak = results["engine"], results["leak"]
    assert 10_000 < results["echo_idle_kib"] < engine["idle_kib"], "reelserve carries more than a bare echo app"
    assert engine["failed"] == 0
    assert engine["idle_kib"] < engine["working_peak_kib"], "rendering a clip takes memory"
    assert engine["checkpoints"][-1]["completed"] == 3
    assert [count for count, _ in leak["checkpoints"]] == [20, 40, 60, 80, 100]
    assert all(kib > 0 for _, kib in leak["checkpoints"])


def test_observability_benchmark_prints_its_table_and_numbers_are_sane(quick_run: tuple[str, Path]) -> None:
    stdout, out_dir = quick_run
    assert "## Observability cost" in stdout and "| poll, metrics + JSON logs" in stdout
    for target in ("metrics and JSON logs cost of polling throughput at 16 connections",
                   "polling with metrics and JSON logs vs echo at 16 connections"):
        assert any(target in line and line.startswith(("PASS", "FAIL")) for line in stdout.splitlines()), target
    results = load(out_dir, "observability")
    assert {row["server"] for row in results["results"]} == {"echo", "off", "on"}
    for row in results["results"]:
        assert row["errors"] == 0 and row["requests_per_second"] > 0, row
        assert 0 < row["server_cpu_us_per_request"] < 100_000, row
    assert results["scrapes"] >= 1 and results["scrape_failures"] == 0
    assert results["json_log_lines"] > 100, "the `on` server logged every poll as a JSON line"
    assert all(isinstance(target["passed"], bool) for target in results["targets"])


def test_driver_summarises_every_verdict_and_writes_markdown(quick_run: tuple[str, Path]) -> None:
    stdout, out_dir = quick_run
    summary = stdout.split("## Summary", 1)[1]
    assert "- api: ran in" in summary and "- memory: ran in" in summary and "- observability: ran in" in summary
    assert "make bench runs in under 10 minutes" in summary
    assert summary.count("PASS") + summary.count("FAIL") >= 7
    markdown = (out_dir / "results.md").read_text()
    assert markdown.startswith("# reelserve benchmark results")
    assert "Machine:" in markdown and "## API overhead" in markdown and "## Memory" in markdown


def test_scale_benchmark_runs_quick_and_its_numbers_are_sane(tmp_path: Path) -> None:
    """bench_scale.py through the driver, in its quick mode (PostgreSQL, a few jobs, 10,000 rows)."""
    finished = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--quick", "--only", "scale", "--out-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=400, check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "## Scale-out: queues and data growth" in finished.stdout and "| setup" in finished.stdout
    results = load(tmp_path, "scale")
    assert [row["setup"] for row in results["jobs"]] == [
        "embedded, SQLite, 1 worker", "procrastinate, PostgreSQL, 1 worker(s)", "procrastinate, PostgreSQL, 2 worker(s)"
    ]
    for row in [*results["jobs"], results["backlog"]]:
        assert 0 < row["dispatch_p50_ms"] <= row["dispatch_max_ms"] < 60_000, row
    assert all(row["jobs_per_minute"] > 0 for row in results["jobs"])
    assert [row["predictions"] for row in results["sizes"]] == [0, 10_000]
    assert all(0 < row[field] < 60_000 for row in results["sizes"]
               for field in ("poll_p99_ms", "submit_p99_ms", "history_p99_ms"))
    assert len(results["targets"]) == 4 and all(isinstance(t["passed"], bool) for t in results["targets"])
