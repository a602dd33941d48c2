"""Webhooks, as WaveSpeed documents them: when a job ends, its prediction object is POSTed to the URL given at
submit, signed with the submitting key's secret.

Headers: `webhook-id` (the delivery's id, the same on every retry), `webhook-timestamp` (Unix seconds) and
`webhook-signature: v3,<hex HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the secret minus its
`whsec_` prefix, as UTF-8 text. Deliveries are rows written with the job's end; a sender thread in every process
that runs maintenance claims the due ones and sends them from a small pool of its own, so that a receiver that
is slow or never answers holds neither a worker nor the event loop. Timeouts, connection errors, 429 and 5xx are
retried on the schedule below with jitter; any other answer is final; redirects are never followed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from reelserve.net.post import PostOutcome, post
from reelserve.net.url_check import FetchPolicy
from reelserve.observe import metrics, tracing
from reelserve.observe.context import job_context
from reelserve.service.keys import KeyInfo
from reelserve.service.views import PredictionView, view_of
from reelserve.store import predictions as prediction_store
from reelserve.store import webhooks as webhook_store
from reelserve.store.database import Database
from reelserve.store.tables import utcnow

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
RETRY_DELAYS_SECONDS = (10, 30, 60, 300, 600, 1200, 1800, 3600)
"""After the first attempt fails: 8 more, the last about 2 hours 6 minutes after the first (each ±20%)."""
JITTER = 0.2
ATTEMPT_TIMEOUT_SECONDS = 10.0
RETRYABLE_STATUSES = frozenset({408, 429})

Renderer = Callable[[PredictionView, str], dict[str, Any]]
"""(the prediction, the public base URL it was submitted at) -> the prediction object as a result shows it."""


@dataclass(frozen=True)
class AttemptView:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class DeliveryView:
    id: str
    url: str
    status: str
    attempts: list[AttemptView]
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    key = secret.removeprefix(SECRET_PREFIX).encode()
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v3," + hmac.new(key, signed, hashlib.sha256).hexdigest()


class WebhookSecrets:
    def __init__(self, database: Database) -> None:
        self.database = database

    def of(self, key_id: str) -> str:
        """The key's secret, made on first use."""
        with self.database.write() as connection:
            return webhook_store.set_secret(connection, key_id, new_secret(), only_if_unset=True)

    def rotate(self, key_id: str) -> str:
        with self.database.write() as connection:
            return webhook_store.set_secret(connection, key_id, new_secret(), only_if_unset=False)

    def deliveries(self, key: KeyInfo, prediction_id: str) -> list[DeliveryView]:
        with self.database.statement_read() as connection:
            found = webhook_store.for_prediction(connection, prediction_id)
        return [
            DeliveryView(
                id=delivery.id, url=delivery.url, status=delivery.status,
                attempts=[AttemptView(a.at, a.status_code, a.error, a.duration_ms) for a in attempts],
                next_attempt_at=delivery.next_attempt_at if delivery.status == webhook_store.PENDING else None,
                delivered_at=delivery.delivered_at,
            )
            for delivery, attempts in found
            if delivery.key_id == key.id
        ]


class WebhookSender:
    def __init__(
        self, database: Database, secrets_: WebhookSecrets, policy: FetchPolicy, render: Renderer,
        concurrency: int = 8, poll_seconds: float = 1.0, retry_scale: float = 1.0,
        timeout_seconds: float = ATTEMPT_TIMEOUT_SECONDS,
    ) -> None:
        self.database = database
        self.secrets = secrets_
        self.policy = policy
        self.render = render
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.retry_scale = retry_scale
        self.timeout_seconds = timeout_seconds
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="reelserve-webhook")
        self._sending = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reelserve-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def wake(self, *_: Any) -> None:
        self._wake.set()

    def send_due(self) -> int:
        """Claims what is due and hands it to the pool; how many were handed over."""
        with self._lock:
            free = self.concurrency - self._sending
        if free <= 0:
            return 0
        now = utcnow()
        # Past the hold, a delivery whose sender died mid-attempt is due again, for any process.
        hold = now + timedelta(seconds=self.timeout_seconds * 1.5 + 5)
        with self.database.statement_read() as connection:
            due = webhook_store.due(connection, now, free)
        if not due:
            return 0
        with self.database.write() as connection:
            claimed = webhook_store.hold(connection, due, hold)
        for delivery in claimed:
            with self._lock:
                self._sending += 1
            self._pool.submit(self._send_one, delivery)
        return len(claimed)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.send_due()
            except Exception:
                log.exception("claiming webhook deliveries failed; trying again")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def _send_one(self, delivery: Any) -> None:
        try:
            with job_context(delivery.prediction_id, delivery.key_id, None), tracing.span(
                "webhook", delivery.prediction_id, attempt=delivery.attempts + 1
            ):
                self._attempt(delivery)
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly; it is tried again later", delivery.id)
        finally:
            with self._lock:
                self._sending -= 1
            self._wake.set()

    def _attempt(self, delivery: Any) -> None:
        body = delivery.body
        if body is None:
            body = self._body(delivery)
            with self.database.write() as connection:
                webhook_store.keep_body(connection, delivery.id, body)
        timestamp = str(int(time.time()))
        payload = body.encode()
        headers = {
            "webhook-id": delivery.id,
            "webhook-timestamp": timestamp,
            "webhook-signature": signature(self.secrets.of(delivery.key_id), delivery.id, timestamp, payload),
        }
        started = time.monotonic()
        outcome = post(delivery.url, payload, headers, self.policy, self.timeout_seconds)
        elapsed = time.monotonic() - started
        duration_ms = int(elapsed * 1000)
        status, next_at = self._judge(outcome, delivery.attempts + 1)
        metrics.webhook_attempt("retry" if status == webhook_store.PENDING else status, elapsed)
        with self.database.write() as connection:
            webhook_store.record_attempt(
                connection, delivery.id, utcnow(), outcome.status_code, outcome.error, duration_ms, status, next_at
            )
        log.info(
            "webhook %s for prediction %s: %s (%s)", delivery.id, delivery.prediction_id, status,
            outcome.status_code or outcome.error,
        )

    def _body(self, delivery: Any) -> str:
        row = prediction_store.rows_by_id(self.database, [delivery.prediction_id])[0]
        return orjson.dumps(self.render(view_of(row), row.base_url or "")).decode()

    def _judge(self, outcome: PostOutcome, attempts: int) -> tuple[str, datetime]:
        now = utcnow()
        code = outcome.status_code
        if code is not None and 200 <= code < 300:
            return webhook_store.DELIVERED, now
        retryable = not outcome.refused and (code is None or code >= 500 or code in RETRYABLE_STATUSES)
        if not retryable or attempts > len(RETRY_DELAYS_SECONDS):
            return webhook_store.FAILED, now
        delay = RETRY_DELAYS_SECONDS[attempts - 1] * self.retry_scale
        delay *= 1 + random.uniform(-JITTER, JITTER)
        return webhook_store.PENDING, now + timedelta(seconds=delay)
