"""A server in a process whose OpenTelemetry has global tracer and meter providers (as `opentelemetry-instrument`
sets them up), with reelserve's own tracing on as well; serves one request and prints, as JSON, the spans and the
metric names each side recorded.

A process of its own, because a process's global providers can be set only once."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reelserve.config import Settings
from reelserve.observe import tracing
from tests.support.server import ServerThread


def main() -> None:
    global_spans = InMemorySpanExporter()
    global_tracing = TracerProvider()
    global_tracing.add_span_processor(SimpleSpanProcessor(global_spans))
    trace.set_tracer_provider(global_tracing)
    global_metrics = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[global_metrics]))
    own_spans = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(own_spans))
    with tempfile.TemporaryDirectory() as data_dir:
        thread = ServerThread(Settings(data_dir=Path(data_dir), workers=0))
        server = thread.start()
        try:
            status = server.client.get("/api/v3/balance").status_code
        finally:
            thread.stop()
    recorded = global_metrics.get_metrics_data()
    json.dump({
        "status": status,
        "global_spans": [span.name for span in global_spans.get_finished_spans()],
        "global_metrics": [
            metric.name
            for resource in (recorded.resource_metrics if recorded is not None else [])
            for scope in resource.scope_metrics
            for metric in scope.metrics
        ],
        "own_spans": [span.name for span in own_spans.get_finished_spans()],
    }, sys.stdout)


if __name__ == "__main__":
    main()
