"""`make bench`: every benchmark in turn, their tables as they come, then every PASS/FAIL in one place.

Targets that are missed are reported, not fatal: the exit status is non-zero only when a benchmark
itself failed to run. `--markdown` writes the machine and all tables to one file for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common import BENCH_DIR, REPO_ROOT, machine_description, progress

TIME_BUDGET_SECONDS = 600
VERDICT = re.compile(r"\b(PASS|FAIL)\b")


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    title: str
    prints_markdown: bool


BENCHMARKS = (
    Benchmark("api", "bench_api.py", "API overhead", prints_markdown=True),
    Benchmark("motion", "bench_motion.py", "Motion engine against ffmpeg", prints_markdown=False),
    Benchmark("memory", "bench_memory.py", "Memory", prints_markdown=True),
    Benchmark("speech", "bench_speech.py", "Approximate speech backend", prints_markdown=True),
    Benchmark("lifecycle", "bench_lifecycle.py", "Event streams and history", prints_markdown=True),
    Benchmark("scale", "bench_scale.py", "Scale-out: queues and data growth", prints_markdown=True),
    Benchmark("observability", "bench_observability.py", "Observability cost", prints_markdown=True),
)


@dataclass
class Outcome:
    benchmark: Benchmark
    returncode: int | None
    seconds: float
    stdout: str

    @property
    def verdicts(self) -> list[str]:
        return [line.strip() for line in self.stdout.splitlines() if VERDICT.search(line)]


def run_benchmark(benchmark: Benchmark, quick: bool, out_dir: Path) -> Outcome:
    script = BENCH_DIR / benchmark.script
    if not script.exists():
        progress(f"== {benchmark.name}: {script.relative_to(REPO_ROOT)} is missing; skipped")
        return Outcome(benchmark, None, 0.0, "")
    command = [sys.executable, str(script), "--json", str(out_dir / f"{benchmark.name}.json")]
    if quick:
        command.append("--quick")
    progress(f"== {benchmark.name}: {' '.join(command[1:])}")
    started = time.monotonic()
    lines: list[str] = []
    # Tables are echoed as they come and kept for the summary; progress goes to stderr untouched.
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    print(flush=True)
    return Outcome(benchmark, process.returncode, time.monotonic() - started, "".join(lines))


def summary(outcomes: list[Outcome], total_seconds: float, quick: bool) -> str:
    lines = ["## Summary", ""]
    for outcome in outcomes:
        if outcome.returncode is None:
            state = "skipped (script missing)"
        elif outcome.returncode == 0:
            state = f"ran in {outcome.seconds:.0f} s"
        else:
            state = f"FAILED TO RUN (exit status {outcome.returncode}) after {outcome.seconds:.0f} s"
        lines.append(f"- {outcome.benchmark.name}: {state}")
    lines.append("")
    lines += [verdict for outcome in outcomes for verdict in outcome.verdicts]
    within = total_seconds < TIME_BUDGET_SECONDS
    budget = f"{'PASS' if within else 'FAIL'}  make bench runs in under {TIME_BUDGET_SECONDS // 60} minutes"
    lines.append(f"{budget}: {total_seconds:.0f} s" + (" (quick mode)" if quick else ""))
    return "\n".join(lines)


def markdown_report(outcomes: list[Outcome], summary_text: str) -> str:
    machine = machine_description()
    parts = [
        "# reelserve benchmark results",
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}), Python {machine['python']}, "
        f"{machine['platform']}. Date: {machine['date']}.",
    ]
    for outcome in outcomes:
        if not outcome.stdout:
            continue
        if outcome.benchmark.prints_markdown:
            parts.append(_verdicts_as_list(outcome.stdout.strip()))
        else:
            parts.append(f"## {outcome.benchmark.title}\n\n```\n{outcome.stdout.strip()}\n```")
    parts.append(_verdicts_as_list(summary_text))
    return "\n\n".join(parts) + "\n"


def _verdicts_as_list(text: str) -> str:
    """PASS/FAIL lines as a Markdown list, so that they do not run together into one paragraph."""
    return "\n".join(f"- {line}" if VERDICT.search(line) and not line.startswith(("|", "- ")) else line
                     for line in text.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every benchmark in its quick mode")
    parser.add_argument("--out-dir", type=Path, default=BENCH_DIR / "out", help="where each benchmark's JSON goes")
    parser.add_argument("--markdown", type=Path, help="write the machine, all tables and the summary here")
    parser.add_argument("--only", nargs="+", choices=[benchmark.name for benchmark in BENCHMARKS],
                        help="run only these benchmarks")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    chosen = [benchmark for benchmark in BENCHMARKS if not args.only or benchmark.name in args.only]
    outcomes = [run_benchmark(benchmark, args.quick, args.out_dir) for benchmark in chosen]
    summary_text = summary(outcomes, time.monotonic() - started, args.quick)
    print(summary_text)
    if args.markdown is not None:
        args.markdown.write_text(markdown_report(outcomes, summary_text))
    sys.exit(1 if any(outcome.returncode not in (0, None) for outcome in outcomes) else 0)


if __name__ == "__main__":
    main()
