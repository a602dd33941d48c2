"""Every metric reelserve records, and the small functions through which the rest of the server records them.

Labels take only bounded values: route templates (never raw paths), model route ids (bounded by the catalog),
queue names (one per engine binding), statuses, reasons and kinds from fixed lists, provider names, and the
name of a worker process. Never a prediction id or a key.

Multi-process mode: where PROMETHEUS_MULTIPROC_DIR is set in the environment before the server starts,
prometheus-client keeps each process's values in files there, and any process's /metrics adds up every
process's (see exposition.py). Gauges say how: jobs running add up over live processes, a heartbeat's time is
the latest of them.
"""

from __future__ import annotations

import contextlib
import os
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from reelserve import __version__

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


if multiprocess_dir() is not None:
    # prometheus-client writes a file there for each metric as soon as it is made.
    os.makedirs(multiprocess_dir(), exist_ok=True)  # type: ignore[arg-type]

# No `_created` series beside every counter and histogram: they double what a scrape carries, for a timestamp
# Prometheus does not use.
disable_created_metrics()

REGISTRY = CollectorRegistry()
"""This process's metrics. In multi-process mode /metrics reads every process's files instead."""
if multiprocess_dir() is None:
    ProcessCollector(registry=REGISTRY)
    PlatformCollector(registry=REGISTRY)
    GCCollector(registry=REGISTRY)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
JOB_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)
WEBHOOK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

INFO = Gauge("reelserve_info", "The running reelserve's version", ["version"], registry=REGISTRY,
             multiprocess_mode="max")
INFO.labels(__version__).set(1)

HTTP_REQUESTS = Counter(
    "reelserve_http_requests", "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"], registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "reelserve_http_request_duration_seconds", "Time from a request's arrival to the end of its answer",
    ["route", "method"], buckets=LATENCY_BUCKETS, registry=REGISTRY,
)

SUBMITTED = Counter(
    "reelserve_predictions_submitted", "Predictions admitted (charged and queued), by model route", ["route"],
    registry=REGISTRY,
)
REFUSED = Counter(
    "reelserve_predictions_refused",
    "Submits refused, by model route and reason (validation, policy, balance, rate_limit)", ["route", "reason"],
    registry=REGISTRY,
)
ENDED = Counter(
    "reelserve_predictions_ended", "Predictions that ended, by model route and status", ["route", "status"],
    registry=REGISTRY,
)
CHARGED = Counter("reelserve_charged_usd", "Money charged for admitted predictions, in USD", ["route"],
                  registry=REGISTRY)
REFUNDED = Counter("reelserve_refunded_usd", "Money refunded for predictions that did not complete, in USD",
                   ["route"], registry=REGISTRY)

QUEUE_TIME = Histogram(
    "reelserve_job_queue_seconds", "Time from a job's submit to its start on a worker", ["route", "queue"],
    buckets=JOB_BUCKETS, registry=REGISTRY,
)
RUN_TIME = Histogram(
    "reelserve_job_run_seconds", "Time from a job's start on a worker to its end", ["route", "queue"],
    buckets=JOB_BUCKETS, registry=REGISTRY,
)
ENGINE_FAILURES = Counter(
    "reelserve_engine_failures",
    "Jobs that failed or timed out, by kind (oom, cuda_error, crash, timeout, other)", ["route", "queue", "kind"],
    registry=REGISTRY,
)

WEBHOOK_DELIVERIES = Counter(
    "reelserve_webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered, retry: tried again later, failed: given up)", ["outcome"],
    registry=REGISTRY,
)
WEBHOOK_DURATION = Histogram(
    "reelserve_webhook_delivery_seconds", "How long each webhook delivery attempt took", buckets=WEBHOOK_BUCKETS,
    registry=REGISTRY,
)

UPSTREAM_CALLS = Counter(
    "reelserve_upstream_calls", "Calls to hosted providers, by provider and outcome", ["provider", "outcome"],
    registry=REGISTRY,
)
UPSTREAM_DURATION = Histogram(
    "reelserve_upstream_call_seconds", "How long each call to a hosted provider took", ["provider"],
    buckets=LATENCY_BUCKETS, registry=REGISTRY,
)

WORKER_JOBS = Gauge(
    "reelserve_worker_jobs_running", "Jobs running now, per worker process", ["worker"], registry=REGISTRY,
    multiprocess_mode="livesum",
)
WORKER_HEARTBEAT = Gauge(
    "reelserve_worker_heartbeat_timestamp_seconds",
    "When each worker process's watch loop last ran (every half second while the worker runs, busy or idle; it "
    "renews the leases of the jobs it runs)",
    ["worker"], registry=REGISTRY, multiprocess_mode="livemax",
)



class HttpRecorder:
    """The hot path's recording: the labelled children are looked up once per (route, method, status)."""

    METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            shown = method if method in self.METHODS else "other"
            children = (HTTP_REQUESTS.labels(route, shown, str(status)), HTTP_DURATION.labels(route, shown))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def submitted(route: str, price_micros: int) -> None:
    SUBMITTED.labels(route).inc()
    if price_micros:
        CHARGED.labels(route).inc(price_micros / 1_000_000)


def refused(route: str, reason: str) -> None:
    REFUSED.labels(route, reason).inc()


def webhook_attempt(outcome: str, seconds: float) -> None:
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    WEBHOOK_DURATION.observe(seconds)


def upstream_call(provider: str, outcome: str, seconds: float) -> None:
    UPSTREAM_CALLS.labels(provider, outcome).inc()
    UPSTREAM_DURATION.labels(provider).observe(seconds)


def worker_heartbeat(worker: str) -> None:
    WORKER_HEARTBEAT.labels(worker).set(time.time())


def worker_jobs(worker: str, change: int) -> None:
    WORKER_JOBS.labels(worker).inc(change)


def worker_gone(worker: str) -> None:
    """A worker that stopped: its series go (in multi-process mode, with its process's files)."""
    for gauge in (WORKER_JOBS, WORKER_HEARTBEAT):
        with contextlib.suppress(KeyError):
            gauge.remove(worker)
