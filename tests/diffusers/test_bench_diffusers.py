"""The diffusers benchmark runs its small configuration on the CPU and reports both settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_diffusers.py"


def test_small_benchmark_compares_stock_and_reelserve_settings(tmp_path: Path) -> None:
    results_path = tmp_path / "results.json"
    finished = subprocess.run(
        [sys.executable, str(BENCH), "--small", "--device", "cpu", "--json", str(results_path)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "wan2.2-ti2v-5b (small configuration, random weights), 64x64, 9 frames, 3 steps" in finished.stdout
    assert "reelserve vs stock:" in finished.stdout

    results = json.loads(results_path.read_text())
    stock, reelserve = results["results"]
    assert (stock["setting"], stock["dtype"], stock["cache"], stock["compile"]) == ("stock", "float32", "none", "no")
    assert (reelserve["cache"], reelserve["compile"], reelserve["attention"]) == (
        "first_block_cache",
        "regional",
        "native",
    )
    assert reelserve["vae_tiling"] and not stock["vae_tiling"]
    for measured in (stock, reelserve):
        assert len(measured["step_seconds"]) == 2
        assert 0 < measured["seconds_per_step"] <= measured["total_seconds"]
        assert measured["peak_memory_gib"] > 0


def test_the_real_configuration_refuses_to_run_on_a_cpu() -> None:
    finished = subprocess.run(
        [sys.executable, str(BENCH), "--device", "cpu"], capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 2 and "pass --small" in finished.stderr
