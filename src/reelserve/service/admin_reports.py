"""What an operator reads on the admin page: usage over time, recent failures, queue depths, balances."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reelserve.errors import InputError, NotFound
from reelserve.jobs.status import Status
from reelserve.service.money import micros_to_usd
from reelserve.store import admin_reports as report_store
from reelserve.store import queue_depth
from reelserve.store.database import Database
from reelserve.store.tables import ApiKey

BUCKET_LENGTHS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
DEFAULT_SPANS = {"hour": timedelta(hours=48), "day": timedelta(days=30)}
MAX_BUCKETS = 2000
FAILED_STATUSES = [Status.FAILED.value, Status.TIMEOUT.value]


@dataclass(frozen=True)
class UsageBucket:
    start: datetime
    spent_usd: float
    """Charges less refunds: what the jobs of this bucket cost in the end."""
    charged_usd: float
    refunded_usd: float
    topped_up_usd: float
    jobs: int
    balance_usd: float
    """The balance at the end of the bucket."""


@dataclass(frozen=True)
class Usage:
    key_id: str | None
    bucket: str
    since: datetime
    until: datetime
    opening_balance_usd: float
    buckets: list[UsageBucket]


@dataclass(frozen=True)
class Failure:
    id: str
    key_id: str
    key_name: str | None
    model: str
    status: str
    error: str | None
    created_at: datetime
    ended_at: datetime | None
    queue: str
    """The queue it waited in: which engine binding took it."""


@dataclass(frozen=True)
class QueueReport:
    queue: str
    waiting: int
    running: int
    oldest_waiting_since: datetime | None


def bucket_floor(moment: datetime, bucket: str) -> datetime:
    moment = moment.astimezone(UTC)
    if bucket == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


class AdminReports:
    def __init__(self, database: Database) -> None:
        self.database = database

    def usage(
        self, key_id: str | None, bucket: str, since: datetime | None = None, until: datetime | None = None,
        now: datetime | None = None,
    ) -> Usage:
        """The ledger of one key's account (of all accounts when `key_id` is None) in hour or day buckets, every
        bucket from `since` to `until` present, empty ones too."""
        if bucket not in BUCKET_LENGTHS:
            raise InputError("bucket must be hour or day", param="bucket")
        step = BUCKET_LENGTHS[bucket]
        end = bucket_floor(until or now or datetime.now(UTC), bucket) + step
        start = bucket_floor(since, bucket) if since is not None else end - DEFAULT_SPANS[bucket]
        if start >= end:
            raise InputError("since must come before until", param="since")
        if (end - start) / step > MAX_BUCKETS:
            raise InputError(
                f"that is more than {MAX_BUCKETS} {bucket}s; ask for a shorter span or for day buckets", param="since"
            )
        with self.database.read() as session:
            account_id = None
            if key_id is not None:
                key = session.get(ApiKey, key_id)
                if key is None:
                    raise NotFound.no_such("key", key_id)
                account_id = key.account_id
            opening = report_store.balance_before(session, account_id, start)
            rows = report_store.ledger_buckets(session, account_id, bucket, start, end)
        return Usage(
            key_id=key_id, bucket=bucket, since=start, until=end, opening_balance_usd=micros_to_usd(opening),
            buckets=_fill(rows, start, end, step, opening),
        )

    def failures(self, limit: int) -> list[Failure]:
        with self.database.read() as session:
            found = report_store.recent_failures(session, FAILED_STATUSES, limit)
            return [
                Failure(
                    id=prediction.id, key_id=prediction.key_id, key_name=key_name, model=prediction.model,
                    status=prediction.status, error=prediction.error, created_at=prediction.created_at,
                    ended_at=prediction.completed_at, queue=prediction.queue,
                )
                for prediction, key_name in found
            ]

    def queues(self, configured: Iterable[str]) -> list[QueueReport]:
        """Jobs waiting and running in each queue: the configured ones (empty or not) and any other holding jobs."""
        depths = queue_depth.in_flight(self.database, None)
        names = list(dict.fromkeys([*configured, *(depth.queue for depth in depths)]))
        reports = []
        for name in names:
            waiting = [d for d in depths if d.queue == name and d.status == Status.CREATED.value]
            running = [d for d in depths if d.queue == name and d.status == Status.PROCESSING.value]
            reports.append(
                QueueReport(
                    queue=name,
                    waiting=sum(d.jobs for d in waiting),
                    running=sum(d.jobs for d in running),
                    oldest_waiting_since=min((d.oldest for d in waiting), default=None),
                )
            )
        return reports

    def balances(self) -> dict[str, float]:
        """Each key's balance in USD."""
        with self.database.read() as session:
            return {key_id: micros_to_usd(micros) for key_id, micros in report_store.balances_by_key(session).items()}


def _fill(
    rows: list[report_store.LedgerBucket], start: datetime, end: datetime, step: timedelta, opening_micros: int
) -> list[UsageBucket]:
    by_start: dict[datetime, dict[str, tuple[int, int]]] = {}
    for row in rows:
        by_start.setdefault(row.start, {})[row.kind] = (row.amount_micros, row.entries)
    buckets = []
    balance = opening_micros
    moment = start
    while moment < end:
        kinds = by_start.get(moment, {})
        charged, jobs = kinds.get("charge", (0, 0))
        refunded, _ = kinds.get("refund", (0, 0))
        topped_up, _ = kinds.get("topup", (0, 0))
        balance += sum(amount for amount, _ in kinds.values())
        buckets.append(
            UsageBucket(
                start=moment,
                spent_usd=micros_to_usd(-charged - refunded),
                charged_usd=micros_to_usd(-charged),
                refunded_usd=micros_to_usd(refunded),
                topped_up_usd=micros_to_usd(topped_up),
                jobs=jobs,
                balance_usd=micros_to_usd(balance),
            )
        )
        moment += step
    return buckets
