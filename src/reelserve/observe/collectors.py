"""Metrics read at scrape time: the queues from the database (the autoscaling signal) and the GPUs' memory.

The queue figures come from the database, not from counters in this process: every process that shares the
database reports the same numbers, whichever one is scraped and however many of them take jobs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueRow:
    """Jobs of one route in one queue with one status (created: waiting; processing: running)."""

    queue: str
    route: str
    status: str
    jobs: int
    oldest_created_at: datetime | None


QueueStats = Callable[[], Iterable[QueueRow]]


class QueueCollector(Collector):
    """Jobs waiting and running, and the oldest waiting job's age, per route and queue; zero for every pair of
    the catalog with none, so that a queue's series falls to 0 rather than vanishing."""

    def __init__(self, stats: QueueStats, pairs: Sequence[tuple[str, str]]) -> None:
        """`pairs`: every (route, queue) the catalog sends jobs to."""
        self.stats = stats
        self.pairs = list(dict.fromkeys(pairs))

    def collect(self) -> Iterator[Metric]:
        labels = ["route", "queue"]
        waiting = GaugeMetricFamily("reelserve_queue_waiting_jobs", "Jobs waiting for a worker", labels=labels)
        oldest = GaugeMetricFamily(
            "reelserve_queue_oldest_wait_seconds", "How long the oldest waiting job has waited (0: none waits)",
            labels=labels,
        )
        running = GaugeMetricFamily("reelserve_queue_running_jobs", "Jobs running on a worker", labels=labels)
        up = GaugeMetricFamily("reelserve_queue_stats_up", "1 where the queue figures were read, 0 where the "
                               "database did not answer (the queue series are then absent)")
        try:
            rows = list(self.stats())
        except Exception as exc:
            log.warning("reading the queues for /metrics failed: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        counts: dict[tuple[str, str], list[float]] = {pair: [0, 0, 0] for pair in self.pairs}
        now = datetime.now(UTC)
        for row in rows:
            figures = counts.setdefault((row.route, row.queue), [0, 0, 0])
            if row.status == "created":
                figures[0] += row.jobs
                if row.oldest_created_at is not None:
                    figures[1] = max(figures[1], (now - row.oldest_created_at).total_seconds())
            else:
                figures[2] += row.jobs
        for (route, queue), (jobs, age, busy) in counts.items():
            waiting.add_metric([route, queue], jobs)
            oldest.add_metric([route, queue], max(0.0, age))
            running.add_metric([route, queue], busy)
        up.add_metric([], 1)
        yield from (waiting, oldest, running, up)


class GpuMemoryCollector(Collector):
    """GPU memory where CUDA is present: only where torch imports and finds a CUDA device.

    Device-wide figures (what nvidia-smi shows: the resident model processes' memory too) come from NVML through
    torch.cuda.device_memory_used, which needs nvidia-ml-py; this process's own CUDA allocator is reported where
    this process has initialised CUDA. torch is imported only on a machine with an NVIDIA driver (or where it is
    imported already), and in the background, so that neither a scrape nor the server's start waits on it.
    """

    DRIVER = Path("/proc/driver/nvidia/version")

    def __init__(self) -> None:
        self._torch: Any = None
        self._looked = False

    def prepare(self) -> None:
        """Imports torch where a driver is present; call from a background thread."""
        if self._looked:
            return
        self._looked = True
        if "torch" not in sys.modules and not (self.DRIVER.exists() and find_spec("torch") is not None):
            return
        try:
            import torch

            if torch.cuda.is_available():
                self._torch = torch
        except Exception as exc:
            log.warning("GPU memory will not be reported: torch could not look for CUDA (%s)", exc)

    def collect(self) -> Iterator[Metric]:
        torch = self._torch
        if torch is None:
            return
        used = GaugeMetricFamily("reelserve_gpu_memory_used_bytes", "GPU memory in use on the device, by every "
                                 "process (NVML)", labels=["device"])
        total = GaugeMetricFamily("reelserve_gpu_memory_total_bytes", "GPU memory of the device", labels=["device"])
        reserved = GaugeMetricFamily("reelserve_gpu_memory_reserved_bytes", "GPU memory held by this process's "
                                     "CUDA allocator", labels=["device"])
        for index in range(torch.cuda.device_count()):
            device = str(index)
            try:
                used.add_metric([device], torch.cuda.device_memory_used(index))
                total.add_metric([device], _nvml_total(index))
            except Exception:  # no nvidia-ml-py, or NVML unavailable: only this process's own figures
                pass
            if torch.cuda.is_initialized():
                reserved.add_metric([device], torch.cuda.memory_reserved(index))
        yield from (used, total, reserved)


def _nvml_total(index: int) -> int:
    import pynvml

    return int(pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(index)).total)


def pairs_of(routes_by_queue: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    return [(route, queue) for queue, routes in routes_by_queue.items() for route in routes]

