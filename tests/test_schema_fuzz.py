"""Schemathesis against the server's own OpenAPI document: no 5xx, no answer that breaks the schema."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from reelserve.config import Settings
from tests.support.server import RunningServer, ServerThread

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def refuse_every_name(host: str, port: int) -> list[str]:
    """Fuzzed URLs must not make the server look names up: no traffic may leave this machine."""
    raise socket.gaierror(f"{host}: name lookups are switched off in this test")


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    thread = ServerThread(Settings(data_dir=data_dir, workers=0, database_url=f"sqlite:///{data_dir}/fuzz.db"))
    runtime = thread.runtime
    runtime.predictions.images.policy = dataclasses.replace(runtime.predictions.images.policy,
                                                            resolver=refuse_every_name)
    runtime.voices.policy = dataclasses.replace(runtime.voices.policy, resolver=refuse_every_name)
    server = thread.start()
    yield server
    thread.stop()


def _schema() -> schemathesis.schemas.BaseSchema:
    from reelserve.api.app import create_app

    probe_dir = Path(__import__("tempfile").mkdtemp())
    app = create_app(Settings(data_dir=probe_dir, workers=0))
    return schemathesis.openapi.from_dict(app.openapi())


schema = _schema()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors_and_answers_match_the_schema(case: schemathesis.Case, fuzzed_server: RunningServer) -> None:
    headers = {"Authorization": fuzzed_server.key, **(case.headers or {})}
    response = case.call(base_url=fuzzed_server.base_url, headers=headers)
    case.validate_response(response, checks=CHECKS)
