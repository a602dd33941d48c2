"""Tracing (the `otel` extra): a span per request and per stage of a job (validate, admit, queue, run, encode, store,
webhook), each with the prediction id; exported over OTLP/HTTP where an endpoint is set; nothing without one."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reelserve.config import Settings
from reelserve.observe import tracing
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes
from tests.support.server import ServerThread
from tests.support.webhook_receiver import WebhookReceiver

IMAGE = base64.b64encode(image_bytes(640, 360)).decode()
REPO_ROOT = Path(__file__).resolve().parents[2]
STAGES = ("validate", "admit", "job", "queue", "run", "encode", "store", "webhook")


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        tracing.uninstall()


def test_a_job_traced_stage_by_stage(start_sqlite_server: ServerFactory, spans: InMemorySpanExporter) -> None:
    receiver = WebhookReceiver()
    try:
        server = start_sqlite_server(workers=1)
        answer = server.client.post(f"/api/v3/{SEED_ROUTE}", params={"webhook": receiver.url()},
                                    json={"prompt": "a slow zoom", "image": IMAGE},
                                    headers={"X-Request-ID": "traced-submit"})
        assert answer.status_code == 200, answer.text
        prediction_id = answer.json()["data"]["id"]
        assert server.wait(prediction_id)["status"] == "completed"
        receiver.wait_for(1)
        deadline = time.monotonic() + 30
        while not [span for span in spans.get_finished_spans() if span.name == "webhook"]:
            assert time.monotonic() < deadline, "no webhook span"
            time.sleep(0.05)
    finally:
        receiver.close()
    finished = spans.get_finished_spans()
    by_name: dict[str, Any] = {}
    for span in finished:
        by_name.setdefault(span.name, span)
    submit_span = by_name[f"POST /api/v3/{SEED_ROUTE}"]
    assert submit_span.attributes[tracing.PREDICTION_ID] == prediction_id
    assert submit_span.attributes[tracing.REQUEST_ID] == "traced-submit"
    assert submit_span.attributes["http.response.status_code"] == 200
    assert submit_span.attributes["http.route"] == f"/api/v3/{SEED_ROUTE}"
    assert "GET /api/v3/predictions/{prediction_id}/result" in by_name
    for stage in STAGES:
        assert by_name[stage].attributes[tracing.PREDICTION_ID] == prediction_id, stage
    for stage in ("validate", "admit"):
        assert by_name[stage].parent.span_id == submit_span.context.span_id, "submit stages belong to its request"
    job = by_name["job"]
    for stage in ("queue", "run", "encode", "store"):
        assert by_name[stage].parent.span_id == job.context.span_id, stage
        assert by_name[stage].context.trace_id == job.context.trace_id
    assert job.start_time <= by_name["queue"].start_time <= by_name["queue"].end_time <= by_name["run"].start_time
    assert by_name["run"].end_time <= by_name["encode"].start_time <= by_name["store"].start_time <= job.end_time
    assert by_name["run"].attributes["engine"] == "motion"


def test_no_spans_without_tracing(start_sqlite_server: ServerFactory) -> None:
    assert not tracing.enabled()
    assert tracing.span("run", "p1").__enter__() is None
    server = start_sqlite_server(workers=0)
    assert server.client.get("/healthz").status_code == 200


class Collector:
    """An OTLP/HTTP receiver on 127.0.0.1 that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, bytes]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                collector.received.append((self.path, self.headers.get("Content-Type", ""), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_spans_exported_over_otlp(tmp_path: Path) -> None:
    collector = Collector()
    try:
        thread = ServerThread(Settings(data_dir=tmp_path / "data", workers=0, otlp_endpoint=collector.url))
        server = thread.start()
        assert server.client.get("/api/v3/balance").status_code == 200
        thread.stop()  # the batch is sent as tracing stops with the server
    finally:
        collector.close()
    assert not tracing.enabled()
    assert collector.received, "nothing was exported"
    path, content_type, _ = collector.received[0]
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    names = set()
    for _, _, sent in collector.received:
        request = ExportTraceServiceRequest()
        request.ParseFromString(sent)
        for resource in request.resource_spans:
            service = {item.key: item.value.string_value for item in resource.resource.attributes}["service.name"]
            assert service == "reelserve"
            names |= {span.name for scoped in resource.scope_spans for span in scoped.spans}
    assert "GET /api/v3/balance" in names, names


def test_one_span_per_request_where_the_process_has_global_providers() -> None:
    """FastAPI's own instrumentation would start wherever the process has global OpenTelemetry providers and add a
    second server span and metrics per request; reelserve's spans are the only ones."""
    finished = subprocess.run(
        [sys.executable, "-m", "tests.support.global_otel_process"], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert finished.returncode == 0, finished.stderr
    seen = json.loads(finished.stdout)
    assert seen["status"] == 200
    assert seen["own_spans"] == ["GET /api/v3/balance"]
    assert seen["global_spans"] == []
    assert seen["global_metrics"] == []
