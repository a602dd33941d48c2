"""Optional OpenTelemetry tracing (the `otel` extra): a span per HTTP request and per stage of a job (validate,
admit, queue, run, encode, store, webhook), each with the prediction id as the attribute `reelserve.prediction_id`,
exported over OTLP/HTTP to REELSERVE_OTLP_ENDPOINT.

Without an endpoint (or without the extra) every span here is one shared null context: nothing is imported,
allocated or timed. The SDK's provider is this module's own, not OpenTelemetry's global one, so that tracing is
switched on and off with the server that configured it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

PREDICTION_ID = "reelserve.prediction_id"
ROUTE = "reelserve.route"
REQUEST_ID = "reelserve.request_id"
TRACES_PATH = "/v1/traces"

_NULL = contextlib.nullcontext()
_provider: Any = None
_tracer: Any = None


class TracingUnavailable(RuntimeError):
    """An OTLP endpoint is configured but the OpenTelemetry SDK is not installed."""


def enabled() -> bool:
    return _tracer is not None


def check_available() -> None:
    """TracingUnavailable where the `otel` extra is not installed."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise TracingUnavailable(
            f"REELSERVE_OTLP_ENDPOINT is set but OpenTelemetry is not installed ({exc.name}): "
            "pip install 'reelserve[otel]'"
        ) from None


def configure(endpoint: str | None) -> None:
    """Exports spans in batches to `endpoint` (a collector's base URL, or its full /v1/traces URL)."""
    if not endpoint:
        return
    check_available()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    url = endpoint if endpoint.rstrip("/").endswith(TRACES_PATH) else endpoint.rstrip("/") + TRACES_PATH
    install(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))


def install(processor: Any) -> None:
    """Traces from now on through `processor` (an SDK SpanProcessor: tests give one with an in-memory exporter)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    global _provider, _tracer
    uninstall()
    provider = TracerProvider(resource=Resource.create({"service.name": "reelserve"}))
    provider.add_span_processor(processor)
    _provider, _tracer = provider, provider.get_tracer("reelserve")


def uninstall() -> None:
    """Stops tracing, sending what is still buffered."""
    global _provider, _tracer
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def span(name: str, prediction_id: str | None = None, **attributes: Any) -> contextlib.AbstractContextManager[Any]:
    """A span around a block, the current one's child; a null context when tracing is off."""
    tracer = _tracer
    if tracer is None:
        return _NULL
    if prediction_id is not None:
        attributes[PREDICTION_ID] = prediction_id
    known = {name: value for name, value in attributes.items() if value is not None}
    return tracer.start_as_current_span(name, attributes=known)


def tag(span: Any, prediction_id: str) -> None:
    """Names the prediction on a span begun before its id was known (the span is None when tracing is off)."""
    if span is not None:
        span.set_attribute(PREDICTION_ID, prediction_id)


def timed_span(name: str, start: datetime, end: datetime, prediction_id: str, **attributes: Any) -> None:
    """A span of something that happened between two known times (a job's wait in its queue)."""
    tracer = _tracer
    if tracer is None:
        return
    attributes[PREDICTION_ID] = prediction_id
    done = tracer.start_span(name, start_time=_nanoseconds(start), attributes=attributes)
    done.end(end_time=_nanoseconds(end))


@contextlib.contextmanager
def job_span(prediction_id: str, created_at: datetime, **attributes: Any) -> Iterator[None]:
    """A job's whole life, from its submit: its stages (queue, run, encode, store) are its children."""
    tracer = _tracer
    if tracer is None:
        yield
        return
    attributes[PREDICTION_ID] = prediction_id
    with tracer.start_as_current_span("job", start_time=_nanoseconds(created_at), attributes=attributes):
        yield


def _nanoseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)
