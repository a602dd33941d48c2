"""What every fake provider shares: the scenario switch, the record of requests and cancels, its jobs,
and the output files it serves (a real MP4, or a 404, or an endless stream)."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.support.fake_providers.asgi_thread import AsgiThread
from tests.support.videos import tiny_mp4

SCENARIOS = (
    "ok",            # the job runs for a few polls and succeeds
    "slow",          # the job takes SLOW_SECONDS of wall time
    "rate_limited",  # the submit answers 429 (with Retry-After) RATE_LIMITED_ANSWERS times, then succeeds
    "server_error",  # the submit answers HTTP 502
    "refused",       # the provider's content policy refuses the job
    "failed",        # the job fails for a reason of the provider's own
    "never_ends",    # the job stays in progress forever
    "malformed",     # the submit answers 200 with a body that is not the documented JSON
    "output_404",    # the job succeeds, its output URL answers 404
    "huge_output",   # the job succeeds, its output URL streams without end
)
SLOW_SECONDS = 1.5
POLLS_UNTIL_DONE = 2
RATE_LIMITED_ANSWERS = 2
HUGE_CHUNK = b"\0" * (1024 * 1024)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None


@dataclass
class FakeJob:
    id: str
    scenario: str
    input: Any
    created: float = field(default_factory=time.monotonic)
    polls: int = 0
    cancelled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def done(self) -> bool:
        if self.scenario == "never_ends" or self.cancelled:
            return False
        if self.scenario == "slow":
            return time.monotonic() - self.created >= SLOW_SECONDS
        return self.polls >= POLLS_UNTIL_DONE


class FakeProvider:
    name = "fake"

    def __init__(self) -> None:
        self.scenario = "ok"
        self.requests: list[Recorded] = []
        self.cancelled: list[str] = []
        self.jobs: dict[str, FakeJob] = {}
        self.base_url = ""
        self.rate_limited_left = RATE_LIMITED_ANSWERS
        self._lock = threading.Lock()
        self._thread: AsgiThread | None = None

    def set_scenario(self, scenario: str) -> None:
        assert scenario in SCENARIOS, scenario
        with self._lock:
            self.scenario = scenario
            self.rate_limited_left = RATE_LIMITED_ANSWERS

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.cancelled.clear()
            self.jobs.clear()
        self.set_scenario("ok")

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def start(self) -> FakeProvider:
        app = Starlette(routes=[*self.routes(), Route("/files/{name}", self._file, methods=["GET"])])
        self._thread = AsgiThread(app)
        self.base_url = self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()

    async def record(self, request: Request) -> Recorded:
        body = await request.body()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        recorded = Recorded(request.method, request.url.path, dict(request.headers), body, parsed)
        with self._lock:
            self.requests.append(recorded)
        return recorded

    def take_rate_limit(self) -> bool:
        """Whether this submit is one of the scenario's 429s."""
        with self._lock:
            if self.scenario == "rate_limited" and self.rate_limited_left > 0:
                self.rate_limited_left -= 1
                return True
            return False

    def new_job(self, given: Any, job_id: str | None = None) -> FakeJob:
        job = FakeJob(job_id or secrets.token_hex(12), self.scenario, given)
        with self._lock:
            self.jobs[job.id] = job
        return job

    def output_url(self, job: FakeJob) -> str:
        return f"{self.base_url}/files/{job.id}.mp4"

    def submits(self) -> list[Recorded]:
        raise NotImplementedError

    async def _file(self, request: Request) -> Response:
        job = self.jobs.get(request.path_params["name"].removesuffix(".mp4"))
        if job is None or job.scenario == "output_404":
            return Response("not found", status_code=404)
        if job.scenario == "huge_output":
            return StreamingResponse(_endless(), media_type="video/mp4")
        return Response(tiny_mp4(), media_type="video/mp4")


async def _endless() -> AsyncIterator[bytes]:
    for _ in range(4096):
        yield HUGE_CHUNK


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)
