"""A webhook receiver on 127.0.0.1 that records every request and answers with the statuses a test scripts, and
WaveSpeed's documented signature check written here from its documentation, independently of reelserve's code."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


def wavespeed_signature_is_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """WaveSpeed's "Verifying Webhooks": HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{raw body}`, keyed with the
    secret without its `whsec_` prefix (as text, not base64-decoded), hex, in `webhook-signature: v3,<hex>`."""
    version, _, given = headers.get("webhook-signature", "").partition(",")
    if version != "v3" or not given:
        return False
    key = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = hmac.new(key.encode("utf-8"), content, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


class WebhookReceiver:
    def __init__(self, statuses: list[int] | None = None, delay_seconds: float = 0.0) -> None:
        self.received: list[Received] = []
        self.statuses = list(statuses or [])
        """Answers for the next requests, in order; 200 once they run out."""
        self.delay_seconds = delay_seconds
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} webhook requests arrived"
            time.sleep(0.02)
        return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
