"""Logs: `reelserve serve` with REELSERVE_LOG_FORMAT=json writes one JSON object per line on standard error, each
line about a request carrying its request id (taken from X-Request-ID or made, and returned), the key's id (never
the key) and the prediction's id; a job's life is logged as events. Plain text stays the default, and the access
log can be switched off or sampled."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from reelserve.observe.context import LogContext, enter, leave
from reelserve.observe.logs import AccessLog, JsonFormatter, TextFormatter
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes
from tests.support.process import REELSERVE, free_port

IMAGE = base64.b64encode(image_bytes(640, 360)).decode()


class SeparateStreams:
    """`reelserve serve` in a child process with its standard output and standard error kept apart."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.out_path, self.err_path = data_dir.parent / "stdout.txt", data_dir.parent / "stderr.txt"
        self._out, self._err = self.out_path.open("w"), self.err_path.open("w")
        self.process = subprocess.Popen(
            [REELSERVE, "serve", "--port", str(self.port), "--data-dir", str(data_dir), "--workers", "1"],
            stdout=self._out, stderr=self._err, env={**os.environ, **env},
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.err_path.read_text()
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, self.err_path.read_text()
            time.sleep(0.1)
        found = re.search(r"^API key: (sk-\S+)$", self.out_path.read_text(), re.MULTILINE)
        assert found is not None, self.out_path.read_text()
        self.key = found.group(1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
        self._out.close()
        self._err.close()


def test_json_logs_carry_the_ids_line_by_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = SeparateStreams(data_dir, {"REELSERVE_LOG_FORMAT": "json", "REELSERVE_LOG_LEVEL": "info"})
    try:
        client = httpx.Client(base_url=server.base_url, headers={"Authorization": server.key}, timeout=60)
        submitted = client.post(f"/api/v3/{SEED_ROUTE}", json={"prompt": "a slow zoom", "image": IMAGE},
                                headers={"X-Request-ID": "submit-from-the-test-1"})
        assert submitted.status_code == 200, submitted.text
        assert submitted.headers["x-request-id"] == "submit-from-the-test-1"
        prediction_id = submitted.json()["data"]["id"]
        deadline = time.monotonic() + 60
        while True:
            polled = client.get(f"/api/v3/predictions/{prediction_id}/result")
            if polled.json()["data"]["status"] == "completed":
                break
            assert time.monotonic() < deadline, polled.text
            time.sleep(0.1)
        made = polled.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", made), "an id is made where none is given"
        unusable = "no spaces or \u00e9 ".encode("latin-1") + b"x" * 200
        odd = client.get("/api/v3/balance", headers={"X-Request-ID": unusable})
        assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["x-request-id"]), "an unusable id is replaced"
        refused = client.post(f"/api/v3/{SEED_ROUTE}", json={"prompt": "a zoom", "image": IMAGE, "duration": 99},
                              headers={"X-Request-ID": "refused-1"})
        assert refused.status_code == 400 and refused.headers["x-request-id"] == "refused-1"
        priced = client.post("/api/v3/model/pricing", json={"model_id": SEED_ROUTE, "inputs": {"duration": 5}},
                             headers={"X-Request-ID": "routed-post-1"})
        assert priced.status_code == 200, priced.text
    finally:
        server.stop()

    lines = [json.loads(line) for line in server.err_path.read_text().splitlines()]  # each line is JSON
    assert lines and all({"ts", "level", "logger", "message"} <= line.keys() for line in lines)
    key_id = own_key_id(data_dir)
    assert server.key not in server.err_path.read_text(), "the key itself is never logged"

    def one(**wanted: Any) -> dict[str, Any]:
        found = [line for line in lines if all(line.get(name) == value for name, value in wanted.items())]
        assert len(found) == 1, (wanted, found)
        return found[0]

    submit_line = one(event="http.request", request_id="submit-from-the-test-1")
    assert submit_line["key_id"] == key_id and submit_line["prediction_id"] == prediction_id
    assert submit_line["route"] == f"/api/v3/{SEED_ROUTE}" and submit_line["status"] == 200
    assert submit_line["logger"] == "reelserve.access" and submit_line["duration_ms"] > 0
    accepted = one(event="job.accepted")
    assert (accepted["request_id"], accepted["prediction_id"], accepted["key_id"], accepted["route"]) == (
        "submit-from-the-test-1", prediction_id, key_id, SEED_ROUTE)
    started = one(event="job.started")
    assert started["prediction_id"] == prediction_id and started["key_id"] == key_id
    assert started["worker"].startswith(os.uname().nodename) and "request_id" not in started
    progress = [line["progress"] for line in lines if line.get("event") == "job.progress"]
    assert progress == [25, 50, 75]
    ended = one(event="job.ended")
    assert ended["status"] == "completed" and ended["prediction_id"] == prediction_id and ended["key_id"] == key_id
    assert ended["duration_ms"] >= ended["run_ms"] > 0
    assert ended["worker"] == started["worker"]
    poll = one(event="http.request", request_id=made)
    assert poll["prediction_id"] == prediction_id and poll["key_id"] == key_id
    assert poll["route"] == "/api/v3/predictions/{prediction_id}/result"
    refusal = one(event="http.request", request_id="refused-1")
    assert refusal["status"] == 400 and refusal["key_id"] == key_id and "prediction_id" not in refusal
    routed = one(event="http.request", request_id="routed-post-1")
    assert routed["key_id"] == key_id, "a POST that FastAPI routes carries the key the body gate found"
    assert any(line["logger"].startswith("uvicorn") for line in lines), "uvicorn's own lines are JSON too"
    assert any("listening on" in line["message"] for line in lines)


def own_key_id(data_dir: Path) -> str:
    engine = create_engine(f"sqlite:///{data_dir / 'reelserve.db'}")
    with engine.connect() as connection:
        found = connection.execute(text("SELECT id FROM api_keys")).scalars().all()
    engine.dispose()
    assert len(found) == 1
    return str(found[0])


def test_text_is_the_default_and_shows_the_ids(capsys: pytest.CaptureFixture[str]) -> None:
    record = logging.LogRecord("reelserve.jobs", logging.INFO, __file__, 1, "prediction %s ended", ("p1",), None)
    record.fields = {"event": "job.ended", "status": "completed"}
    token = enter(LogContext("req-7", key_id="key-3", prediction_id="p1"))
    try:
        plain = TextFormatter().format(record)
        structured = json.loads(JsonFormatter().format(record))
    finally:
        leave(token)
    assert plain.endswith("INFO reelserve.jobs: prediction p1 ended request_id=req-7 key_id=key-3 prediction_id=p1")
    assert structured["request_id"] == "req-7" and structured["status"] == "completed"
    assert structured["event"] == "job.ended" and structured["message"] == "prediction p1 ended"
    from reelserve.config import Settings

    assert Settings().log_format == "text" and Settings().access_log == "on"


@pytest.mark.parametrize(("setting", "low", "high"), [("on", 400, 400), ("off", 0, 0), ("sample:0.25", 50, 150)])
def test_access_log_on_off_or_sampled(
    start_sqlite_server: ServerFactory, caplog: pytest.LogCaptureFixture, setting: str, low: int, high: int
) -> None:
    server = start_sqlite_server(workers=0, access_log=setting)
    caplog.set_level(logging.INFO, logger="reelserve.access")
    prediction_id = server.submit(SEED_ROUTE, {"prompt": "a zoom", "image": IMAGE}).json()["data"]["id"]
    caplog.clear()
    for _ in range(400):
        assert server.client.get(f"/api/v3/predictions/{prediction_id}").status_code == 200

    def logged() -> list[logging.LogRecord]:
        return [record for record in caplog.records
                if record.name == "reelserve.access" and record.fields["method"] == "GET"]  # type: ignore[attr-defined]

    # A request's access line is written once its answer has been sent: the last one may still be on its way.
    deadline = time.monotonic() + 5
    while len(logged()) < low and time.monotonic() < deadline:
        time.sleep(0.01)
    assert low <= len(logged()) <= high, len(logged())


def test_access_log_settings_are_checked() -> None:
    from pydantic import ValidationError

    from reelserve.config import Settings

    assert AccessLog.parse("sample:0.1") == AccessLog(0.1)
    assert AccessLog.parse("off").wants(500) is False
    assert AccessLog.parse("sample:0").wants(503) is True, "a sampled log keeps every server error"
    for wrong in ("sometimes", "sample:2", "sample:", "sample:x"):
        with pytest.raises(ValidationError):
            Settings(access_log=wrong)
