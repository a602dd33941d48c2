"""Rounds of load that take turns: each workload at each concurrency, `rounds` times, the workloads alternating
within a round so that noise on a shared machine touches them alike; figures are medians over the rounds."""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from common import ServerProcess, progress
from loadgen import LoadGenerator, LoadResult, LoadSpec


@dataclass(frozen=True)
class Plan:
    concurrencies: tuple[int, ...]
    rounds: int
    seconds: float
    warmup_seconds: float
    polled_predictions: int


@dataclass(frozen=True)
class Workload:
    """Requests sent to one server; `during` is held open around each of its runs (a scraper, say)."""

    name: str
    server: ServerProcess
    requests: Sequence[bytes]
    during: Callable[[], AbstractContextManager[object]] = field(default=contextlib.nullcontext)


@dataclass
class Cell:
    """One workload at one concurrency: its rounds and their medians."""

    workload: str
    concurrency: int
    rounds: list[LoadResult]

    def median(self, figure: str) -> float:
        """The median over the rounds of one of LoadResult's figures (`requests_per_second`, `p99_ms`, ...)."""
        return statistics.median(getattr(result, figure) for result in self.rounds)

    @property
    def requests_per_second(self) -> float:
        return self.median("requests_per_second")

    @property
    def p50_ms(self) -> float:
        return self.median("p50_ms")

    @property
    def p99_ms(self) -> float:
        return self.median("p99_ms")

    @property
    def errors(self) -> int:
        return sum(result.errors for result in self.rounds)


def measure(plan: Plan, workloads: Sequence[Workload]) -> list[Cell]:
    cells = {(workload.name, concurrency): Cell(workload.name, concurrency, [])
             for concurrency in plan.concurrencies for workload in workloads}
    with LoadGenerator() as load:
        for concurrency in plan.concurrencies:
            for round_number in range(plan.rounds):
                for workload in workloads:
                    spec = LoadSpec(
                        port=workload.server.port, requests=workload.requests, concurrency=concurrency,
                        seconds=plan.seconds, warmup_seconds=plan.warmup_seconds, server_pid=workload.server.pid,
                    )
                    with workload.during():
                        result = load.run(spec)
                    progress(f"  {workload.name:24} x{concurrency:<3} round {round_number + 1}: "
                             f"{result.requests_per_second:7.0f} req/s  p50 {result.p50_ms:7.2f} ms  "
                             f"p99 {result.p99_ms:7.2f} ms  {result.server_cpu_us_per_request:5.0f} µs/req  "
                             f"errors {result.errors}  other processes {result.other_cpu_percent:.0f}% CPU")
                    cells[(workload.name, concurrency)].rounds.append(result)
    return list(cells.values())


def cell(cells: list[Cell], workload: str, concurrency: int) -> Cell:
    return next(found for found in cells if found.workload == workload and found.concurrency == concurrency)
