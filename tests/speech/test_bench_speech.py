"""bench/bench_speech.py runs in its quick mode and reports the approximate backend's real-time factor (the
figure itself is a target for bench/RESULTS.md, not asserted here: CI machines vary)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_speech_benchmark_quick_mode(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, str(BENCH / "bench_speech.py"), "--quick", "--json", str(tmp_path / "speech.json")],
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "## Approximate speech backend (15 s two-voice script, 6 lines)" in finished.stdout
    assert any(line.startswith(("PASS", "FAIL")) and "two-voice script in under 3 s of CPU" in line
               for line in finished.stdout.splitlines())
    results = json.loads((tmp_path / "speech.json").read_text())
    for run in results["cold"] + results["warm"]:
        assert run["lines"] == 6 and run["cpu"] > 0 and run["wall"] > 0
