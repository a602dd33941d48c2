"""Slow and idle clients against a real `reelserve serve` process: unfinished headers, dripping bodies and idle
keep-alive connections are cut off within their bounds (with 408/431 in the error envelope where something can
still be answered), other clients are answered meanwhile, and SIGTERM ends the process within a bound however
slowly a client is sending.

The bounds asserted are the configured timeouts plus generous slack for a loaded machine; the lower bounds
show that a client gets the time it is allowed.
"""

from __future__ import annotations

import json
import select
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEED_ROUTE
from tests.support.process import ServerProcess, free_port

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
MIN_RATE = 200
KEEP_ALIVE = 1.0
SLACK = 10.0
LIMITS = {
    "REELSERVE_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
    "REELSERVE_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
    "REELSERVE_BODY_MIN_BYTES_PER_SECOND": str(MIN_RATE),
    "REELSERVE_KEEP_ALIVE_TIMEOUT_SECONDS": str(KEEP_ALIVE),
    "REELSERVE_SHUTDOWN_TIMEOUT_SECONDS": "3",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("connections") / "data", free_port(), env=LIMITS, workers=0)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def key(server: ServerProcess) -> str:
    found = server.first_key()
    assert found is not None
    return found


def connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=60)


def drip_until_cut(
    sock: socket.socket, head: bytes, piece: bytes, interval: float, limit: float
) -> tuple[float, bytes]:
    """Sends `head`, then `piece` every `interval` s until the server answers and closes; (seconds, answer)."""
    started = time.monotonic()
    if head:
        sock.sendall(head)
    answer = b""
    while time.monotonic() - started < limit:
        readable, _, _ = select.select([sock], [], [], interval)
        try:
            if readable:
                chunk = sock.recv(65536)
                if not chunk:
                    return time.monotonic() - started, answer
                answer += chunk
            elif piece:
                sock.sendall(piece)
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - started, answer
    raise AssertionError(f"still connected after {limit} s; received {answer[:200]!r}")


def read_response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length, read from a kept connection."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    lengths = [line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
    length = int(lengths[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def envelope_of(answer: bytes, status: int) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), answer[:300]
    assert b"content-type: application/json" in head.lower()
    envelope = json.loads(body)
    assert envelope["code"] == status and envelope["data"] is None and envelope["error"]["message"], envelope
    return envelope


def test_a_connection_that_sends_nothing_is_closed(server: ServerProcess) -> None:
    seconds, answer = drip_until_cut(connect(server), b"", b"", 0.2, HEADER_TIMEOUT + SLACK)
    assert answer == b"" and HEADER_TIMEOUT * 0.8 <= seconds <= HEADER_TIMEOUT + SLACK


@pytest.mark.parametrize(
    ("head", "piece"),
    [
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"X-Slow: 1\r\n"),  # one header line at a time, never the end
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: ", b"a"),  # one header that never ends
        (b"GET /heal", b"t"),  # a request line that never ends
        (b"POST /api/v3/model/pricing HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n", b"X-More: 1\r\n"),
    ],
    ids=["header-lines", "endless-header", "request-line", "before-a-body"],
)
def test_unfinished_headers_are_cut_off(server: ServerProcess, head: bytes, piece: bytes) -> None:
    seconds, answer = drip_until_cut(connect(server), head, piece, 0.2, HEADER_TIMEOUT + SLACK)
    assert HEADER_TIMEOUT * 0.8 <= seconds <= HEADER_TIMEOUT + SLACK, seconds
    assert "headers did not arrive" in str(envelope_of(answer, 408)["message"])


def test_unfinished_headers_of_a_second_request_on_a_kept_connection(server: ServerProcess) -> None:
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = read_response(sock)
    assert first.startswith(b"HTTP/1.1 200"), first
    seconds, answer = drip_until_cut(sock, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: 1\r\n", 0.2,
                                     HEADER_TIMEOUT + SLACK)
    assert seconds <= HEADER_TIMEOUT + SLACK
    envelope_of(answer, 408)


def test_headers_past_the_cap_are_refused(server: ServerProcess) -> None:
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000)
    _, answer = drip_until_cut(sock, b"", b"", 0.2, SLACK)
    assert "larger than 65536 bytes" in str(envelope_of(answer, 431)["message"])
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Many: b\r\n" * 7000)
    _, answer = drip_until_cut(sock, b"", b"", 0.2, SLACK)
    envelope_of(answer, 431)


def test_garbage_is_refused_in_the_envelope(server: ServerProcess) -> None:
    sock = connect(server)
    sock.sendall(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 not http\r\n\r\n")
    _, answer = drip_until_cut(sock, b"", b"", 0.2, SLACK)
    envelope_of(answer, 400)


def request_head(method: str, path: str, length: int | None, key: str | None = None,
                 content_type: str = "application/json") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: x", f"Content-Type: {content_type}"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    if key:
        lines.append(f"Authorization: {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def upload_put_path(server: ServerProcess, key: str) -> str:
    announced = httpx.post(f"{server.base_url}/api/v3/media/uploads", headers={"Authorization": key},
                           json={"filename": "a.png", "size": 100_000, "content_type": "image/png"})
    assert announced.status_code == 200, announced.text
    url = httpx.URL(announced.json()["data"]["upload"]["url"])
    return url.raw_path.decode()


@pytest.mark.parametrize("route", ["submit", "submit-again", "pricing", "upload-put", "chunked"])
def test_dripping_bodies_are_cut_off(server: ServerProcess, key: str, route: str) -> None:
    if route.startswith("submit"):  # the second meets the key in the recent-keys cache: the fast path
        head, piece = request_head("POST", f"/api/v3/{SEED_ROUTE}", 10_000, key) + b'{"prompt": "', b"a"
    elif route == "pricing":
        head, piece = request_head("POST", "/api/v3/model/pricing", 10_000, key) + b"{", b" "
    elif route == "upload-put":
        head, piece = request_head("PUT", upload_put_path(server, key), 100_000, content_type="image/png"), b"\x89"
    else:
        head, piece = request_head("POST", f"/api/v3/{SEED_ROUTE}", None, key) + b"1\r\n{\r\n", b"1\r\n \r\n"
    seconds, answer = drip_until_cut(connect(server), head, piece, 0.2, BODY_TIMEOUT + SLACK)
    assert BODY_TIMEOUT * 0.8 <= seconds <= BODY_TIMEOUT + SLACK, seconds
    assert "arrived too slowly" in str(envelope_of(answer, 408)["message"])


def test_a_body_without_a_valid_key_is_refused_before_it_is_read(server: ServerProcess) -> None:
    for key in (None, "sk-" + "0" * 48):
        sock = connect(server)
        sock.settimeout(BODY_TIMEOUT / 2)
        started = time.monotonic()
        sock.sendall(request_head("POST", "/api/v3/model/pricing", 10_000_000, key) + b"{")
        answer = read_response(sock)
        assert time.monotonic() - started < BODY_TIMEOUT / 2, "answered at once, with the body still to come"
        assert envelope_of(answer, 401)["error"]["type"] == "authentication_error"  # type: ignore[index]


def test_a_body_that_stops_halfway_is_cut_off(server: ServerProcess, key: str) -> None:
    sock = connect(server)
    head = request_head("POST", f"/api/v3/{SEED_ROUTE}", 100_000, key) + b'{"prompt": "' + b"a" * 50_000
    seconds, answer = drip_until_cut(sock, head, b"", 0.2, BODY_TIMEOUT + SLACK)
    assert seconds <= BODY_TIMEOUT + SLACK
    envelope_of(answer, 408)


def test_a_slow_but_steady_body_is_received(server: ServerProcess, key: str) -> None:
    body = json.dumps({"model_id": SEED_ROUTE, "inputs": {"duration": 5}}).encode() + b" " * 6000
    sock = connect(server)
    sock.sendall(request_head("POST", "/api/v3/model/pricing", len(body), key))
    started = time.monotonic()
    for offset in range(0, len(body), 200):  # about 2,000 bytes a second, ten times the minimum
        sock.sendall(body[offset:offset + 200])
        time.sleep(0.1)
    assert time.monotonic() - started > BODY_TIMEOUT, "the body took longer than the grace period"
    answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]


def test_an_idle_kept_connection_is_closed(server: ServerProcess) -> None:
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(sock).startswith(b"HTTP/1.1 200")
    seconds, answer = drip_until_cut(sock, b"", b"", 0.1, KEEP_ALIVE + SLACK)
    assert answer == b"" and KEEP_ALIVE * 0.8 <= seconds <= KEEP_ALIVE + SLACK


def test_others_are_answered_while_slow_clients_hold_connections(server: ServerProcess, key: str) -> None:
    slow = []
    for index in range(30):
        sock = connect(server)
        if index % 2:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        else:
            sock.sendall(request_head("POST", f"/api/v3/{SEED_ROUTE}", 10_000, key) + b"{")
        slow.append(sock)
    try:
        for _ in range(5):
            started = time.monotonic()
            answered = httpx.get(f"{server.base_url}/api/v3/balance", headers={"Authorization": key}, timeout=30)
            assert answered.status_code == 200
            assert time.monotonic() - started < 5, "a slow client must not hold up another's request"
    finally:
        for sock in slow:
            sock.close()


@pytest.mark.parametrize("who", ["dripping-body", "unfinished-headers", "idle"])
def test_sigterm_ends_the_process_within_the_bound_whatever_clients_do(tmp_path: Path, who: str) -> None:
    # Read timeouts far past the test: only the shutdown itself can end these clients.
    slow_limits = {**LIMITS, "REELSERVE_HEADER_TIMEOUT_SECONDS": "600", "REELSERVE_BODY_TIMEOUT_SECONDS": "600",
                   "REELSERVE_KEEP_ALIVE_TIMEOUT_SECONDS": "600", "REELSERVE_SHUTDOWN_TIMEOUT_SECONDS": "3"}
    process = ServerProcess(tmp_path / "data", free_port(), env=slow_limits)
    key = process.first_key()
    sock = connect(process)
    if who == "dripping-body":
        sock.sendall(request_head("POST", f"/api/v3/{SEED_ROUTE}", 10_000, key) + b'{"prompt": "')
        piece = b"a"
    elif who == "unfinished-headers":
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        piece = b"X-Slow: 1\r\n"
    else:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200")
        piece = b""
    time.sleep(0.5)
    started = time.monotonic()
    process.process.terminate()
    seconds, answer = drip_until_cut(sock, b"", piece, 0.2, 30)
    try:
        process.process.wait(30)
        ended = time.monotonic() - started
        log = process.output()
    finally:
        process.stop()
    assert ended < 3 + 20, f"SIGTERM took {ended:.1f} s"
    assert seconds < 3 + 20
    if who == "dripping-body":
        envelope = envelope_of(answer, 503)
        assert "shutting down" in str(envelope["message"])
    # uvicorn shuts down cleanly, then re-raises the signal so that the exit status says what ended it.
    assert process.process.returncode in (0, -signal.SIGTERM), log[-2000:]
    assert "Application shutdown complete" in log
