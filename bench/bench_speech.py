"""The approximate speech backend's real-time factor: a 15 s two-voice script spoken and placed.

    .venv/bin/python bench/bench_speech.py [--quick] [--repeats N] [--json PATH]

Two speech-like voice samples (8 s each, 110 and 220 Hz; the voice tests' samples) and a script of six
alternating lines filling 15 s are turned into the speech track by the speech stage with the approximate
backend (espeak-ng, then WORLD toward each sample), as a job does. CPU time counts this process and its
espeak-ng children. "Cold" includes measuring the two samples (a job's first use of a voice); "warm"
reuses the measured profiles, as a resident worker does for a voice it has seen. Target: the cold run
under 3 s of CPU.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from common import REPO_ROOT, machine_description

sys.path.insert(0, str(REPO_ROOT))

from reelserve.speech.backends.approximate import ApproximateBackend
from reelserve.speech.script import parse_script
from reelserve.speech.stage import speech_track
from tests.support.audio import voice

SECONDS = 15
TARGET_CPU_SECONDS = 3.0
PROMPT = (
    'Anna<<<voice_2>>> asks, "Did you see the storm last night?" '
    'Ben<<<voice_1>>> says, "I did, the street lost power for an hour." '
    'Anna<<<voice_2>>>: "We sat by candle light." '
    'Ben<<<voice_1>>>: "That sounds lovely." '
    'Anna<<<voice_2>>>: "Come over next time." '
    'Ben<<<voice_1>>>: "I will bring the tea."'
)


def write_sample(path: Path, pitch_hz: float, seed: int) -> None:
    pcm = np.round(np.clip(voice(8, 24_000, pitch_hz=pitch_hz, seed=seed)[:, 0], -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(24_000)
        out.writeframes(pcm.tobytes())


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(backend: ApproximateBackend, samples: list[Path]) -> dict[str, float]:
    script = parse_script(PROMPT, SECONDS, None, 2, backend="approximate", voice_match="approximate")
    cpu, wall = cpu_seconds(), time.perf_counter()
    track = speech_track(script, samples, SECONDS, backend, lambda: False)
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    assert track.samples.shape[0] == SECONDS * track.rate
    spoken = sum(line.end - line.start for line in script.lines)
    return {"cpu": cpu, "wall": wall, "lines": len(script.lines), "line_windows_seconds": spoken}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one cold and one warm run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    with tempfile.TemporaryDirectory() as folder:
        samples = [Path(folder) / "low.wav", Path(folder) / "high.wav"]
        write_sample(samples[0], 110.0, 1)
        write_sample(samples[1], 220.0, 2)
        cold = [measure(ApproximateBackend(), samples) for _ in range(repeats)]
        warm_backend = ApproximateBackend()
        measure(warm_backend, samples)
        warm = [measure(warm_backend, samples) for _ in range(repeats)]
    rows = {"cold": cold, "warm": warm}
    print(f"## Approximate speech backend ({SECONDS} s two-voice script, {cold[0]['lines']} lines)\n")
    print("| run | CPU s (median) | wall s (median) | real-time factor (CPU / 15 s) |")
    print("| --- | --- | --- | --- |")
    for name, runs in rows.items():
        cpu = statistics.median(run["cpu"] for run in runs)
        wall = statistics.median(run["wall"] for run in runs)
        print(f"| {name} | {cpu:.2f} | {wall:.2f} | {cpu / SECONDS:.3f} |")
    cold_cpu = statistics.median(run["cpu"] for run in cold)
    verdict = "PASS" if cold_cpu < TARGET_CPU_SECONDS else "FAIL"
    print(f"\n{verdict}  approximate speech: a {SECONDS} s two-voice script in under {TARGET_CPU_SECONDS:g} s of CPU: "
          f"{cold_cpu:.2f} s cold (RTF {cold_cpu / SECONDS:.3f})")
    if args.json is not None:
        args.json.write_text(json.dumps({"machine": machine_description(), "seconds": SECONDS, **rows}, indent=2))


if __name__ == "__main__":
    main()
