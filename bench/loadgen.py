"""A closed-loop HTTP/1.1 load generator: a fixed number of keep-alive connections, each sending its
next request as soon as the previous answer is complete.

It runs in its own process, on uvloop with httptools' C response parser and requests encoded once up
front, so that it costs the client a small fraction of what a request costs a Python server. Each run
reports its own CPU use next to the server's and the whole machine's, so a reader can see which side
was the limit and whether other processes competed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import cast

import httptools
import uvloop

from common import cpu_seconds, machine_busy_seconds, percentile

ANSWER_TIMEOUT_SECONDS = 60.0


def encode_request(
    method: str, path: str, host: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(frozen=True)
class LoadSpec:
    port: int
    requests: Sequence[bytes]
    concurrency: int
    seconds: float
    warmup_seconds: float
    server_pid: int


@dataclass
class LoadResult:
    concurrency: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    client_cpu_seconds: float = 0.0
    server_cpu_seconds: float = 0.0
    machine_cpu_seconds: float = 0.0

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 0.50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 0.99)

    @property
    def client_cpu_percent(self) -> float:
        return 100 * self.client_cpu_seconds / self.seconds

    @property
    def server_cpu_percent(self) -> float:
        return 100 * self.server_cpu_seconds / self.seconds

    @property
    def other_cpu_percent(self) -> float:
        """CPU that neither the server nor the load generator used: other processes on the machine."""
        others = self.machine_cpu_seconds - self.server_cpu_seconds - self.client_cpu_seconds
        return max(0.0, 100 * others / self.seconds)

    @property
    def client_cpu_us_per_request(self) -> float:
        return self._per_request(self.client_cpu_seconds)

    @property
    def server_cpu_us_per_request(self) -> float:
        """Less sensitive than req/s to other processes on the machine: what one answer costs the server."""
        return self._per_request(self.server_cpu_seconds)

    def _per_request(self, cpu_seconds: float) -> float:
        completed = len(self.latencies_ms) + self.errors
        return 1e6 * cpu_seconds / completed if completed else float("nan")


class _Window:
    """The measured interval: answers completed inside it count; the warm-up before it does not."""

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.end = end
        self.latencies_ms: list[float] = []
        self.errors = 0
        self.statuses: dict[int, int] = {}

    def record(self, sent_at: float, answered_at: float, status: int) -> None:
        if not self.start <= answered_at <= self.end:
            return
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if 200 <= status < 300:
            self.latencies_ms.append((answered_at - sent_at) * 1000)
        else:
            self.errors += 1


class _Connection(asyncio.Protocol):
    def __init__(self, requests: Sequence[bytes], first: int, window: _Window, done: asyncio.Future[None]) -> None:
        self.requests = requests
        self.next_index = first
        self.window = window
        self.done = done
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports behave as asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        request = self.requests[self.next_index % len(self.requests)]
        self.next_index += 1
        self.sent_at = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._finish(error)

    def on_message_complete(self) -> None:
        answered_at = time.perf_counter()
        self.window.record(self.sent_at, answered_at, self.parser.get_status_code())
        if answered_at < self.window.end:
            self._send()
        else:
            self._finish(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(exc or ConnectionError("the server closed the connection"))

    def _finish(self, error: Exception | None) -> None:
        if self.transport is not None:
            self.transport.close()
        if not self.done.done():
            if error is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(error)


async def _drive(spec: LoadSpec) -> LoadResult:
    loop = asyncio.get_running_loop()
    start = time.perf_counter() + spec.warmup_seconds
    window = _Window(start, start + spec.seconds)
    finished: list[asyncio.Future[None]] = []
    for number in range(spec.concurrency):
        done: asyncio.Future[None] = loop.create_future()
        first = number * max(1, len(spec.requests) // spec.concurrency)
        await loop.create_connection(lambda first=first, done=done: _Connection(spec.requests, first, window, done),
                                     "127.0.0.1", spec.port)
        finished.append(done)
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    client_before, server_before, machine_before = _cpu_now(spec.server_pid)
    await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
    client_after, server_after, machine_after = _cpu_now(spec.server_pid)
    await asyncio.wait_for(asyncio.gather(*finished), timeout=ANSWER_TIMEOUT_SECONDS)
    return LoadResult(
        concurrency=spec.concurrency,
        seconds=spec.seconds,
        latencies_ms=window.latencies_ms,
        errors=window.errors,
        statuses=window.statuses,
        client_cpu_seconds=client_after - client_before,
        server_cpu_seconds=server_after - server_before,
        machine_cpu_seconds=machine_after - machine_before,
    )


def _cpu_now(server_pid: int) -> tuple[float, float, float]:
    return time.process_time(), cpu_seconds(server_pid), machine_busy_seconds()


def run_load(spec: LoadSpec) -> LoadResult:
    return uvloop.run(_drive(spec))


class LoadGenerator:
    """One load-generating child process, reused for every run so that its start-up is paid once."""

    def __init__(self) -> None:
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))

    def run(self, spec: LoadSpec) -> LoadResult:
        return self._pool.submit(run_load, spec).result(timeout=spec.warmup_seconds + spec.seconds + 120)

    def close(self) -> None:
        self._pool.shutdown()

    def __enter__(self) -> LoadGenerator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
