"""The motion benchmark runs end to end (a 1 s clip, one run of each variant)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_motion.py"


def test_quick_benchmark_compares_with_ffmpeg_and_writes_json(tmp_path: Path) -> None:
    results_path = tmp_path / "results.json"
    finished = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", str(results_path)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert finished.returncode == 0, finished.stderr
    assert "ffmpeg zoompan + libx264" in finished.stdout
    assert "reelserve / ffmpeg" in finished.stdout
    assert finished.stdout.count("target reelserve") == 2

    results = json.loads(results_path.read_text())
    assert results["clip"] == {"prompt": "zoom in", "seconds": 1.0, "width": 1280, "height": 720, "fps": 24}
    assert set(results["variants"]) == {"ffmpeg", "pipeline", "render-yuv", "render-rgb", "encode-yuv", "encode-rgb"}
    for name, variant in results["variants"].items():
        assert len(variant["runs"]) == 1, name
        assert variant["median_wall"] > 0 and variant["median_cpu"] > 0 and variant["median_peak_mb"] > 0, name
        if name != "ffmpeg":
            assert 0 < variant["median_work_wall"] <= variant["median_wall"], name
    for output in results["outputs"].values():
        assert (output["width"], output["height"], output["frame_count"], output["fps"]) == (1280, 720, 24, 24)
        assert output["video_codec"] == "h264"
    assert all(isinstance(passed, bool) for passed in results["targets"].values())
    assert results["ratios"]["work_wall"] > 0
    jitter = results["motion_jitter_px"]
    assert jitter["pipeline"] < jitter["ffmpeg"], "sub-pixel resampling moves more evenly than zoompan's whole pixels"
