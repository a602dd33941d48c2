"""Jobs accepted in the same turn of the event loop are admitted in one transaction, each judged on its own."""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from reelserve.errors import InsufficientBalance, RateLimited
from reelserve.jobs import admission
from reelserve.jobs.queue import JobQueue
from reelserve.jobs.status import IN_FLIGHT
from reelserve.service.jobs import NewJob
from reelserve.service.keys import KeyInfo, KeyLimits
from reelserve.service.views import PredictionView
from reelserve.store import accounts as account_store
from reelserve.store.database import after_commit
from reelserve.store.tables import LedgerEntry, Prediction
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes
from tests.support.server import RunningServer

PRICE = 126_000
IMAGE = image_bytes(320, 320)


def customer(server: RunningServer, balance: str, max_concurrency: int = 100) -> KeyInfo:
    created = server.runtime.keys.create(
        "customer", balance_usd=balance, limits=KeyLimits(rpm=10_000, max_concurrency=max_concurrency)
    )
    return created.info


def job(prediction_id: str | None = None, with_image: bool = True) -> NewJob:
    return NewJob(
        prediction_id=prediction_id or secrets.token_hex(16), model=SEED_ROUTE,
        params={"prompt": "zoom in", "duration": 3}, input_files={"image": IMAGE} if with_image else {},
        price_micros=PRICE,
    )


@contextmanager
def admitted_batches() -> Iterator[list[int]]:
    """The number of jobs in each admission transaction that committed; the commits of the server's other
    writers (its background work) are not counted."""
    batches: list[int] = []
    real_admit = admission.admit

    def admit(connection: Connection, queue: JobQueue, jobs: Sequence[admission.NewJobRow]) -> list[admission.Outcome]:
        outcomes = real_admit(connection, queue, jobs)
        after_commit(connection, lambda: batches.append(len(jobs)))
        return outcomes

    admission.admit = admit  # type: ignore[assignment]
    try:
        yield batches
    finally:
        admission.admit = real_admit  # type: ignore[assignment]


def accept_together(server: RunningServer, jobs: list[tuple[KeyInfo, NewJob]]) -> list[PredictionView | BaseException]:
    intake = server.runtime.predictions.intake

    async def together() -> list[PredictionView | BaseException]:
        return await asyncio.gather(*(intake.accept_soon(key, new) for key, new in jobs), return_exceptions=True)

    return asyncio.run(together())


def input_files(server: RunningServer) -> set[str]:
    return {path.name for path in (server.runtime.storage.root / "inputs").glob("*")}


def test_each_job_of_a_batch_is_judged_in_order_in_one_transaction(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    payer = customer(server, "0.252")  # two jobs
    capped = customer(server, "10", max_concurrency=1)
    batch = [(payer, job()), (capped, job()), (payer, job()), (capped, job()), (payer, job())]
    with admitted_batches() as batches:
        outcomes = accept_together(server, batch)
    assert batches == [5]

    admitted = [0, 1, 2]
    assert all(isinstance(outcomes[i], PredictionView) for i in admitted)
    assert [outcomes[i].id for i in admitted] == [batch[i][1].prediction_id for i in admitted]  # type: ignore[union-attr]
    capped_error = outcomes[3]
    assert isinstance(capped_error, RateLimited)
    assert capped_error.message.startswith("this key has 1 jobs in flight; the limit is 1")
    payer_error = outcomes[4]
    assert isinstance(payer_error, InsufficientBalance)
    assert "costs $0.126" in payer_error.message and "balance is $0.00" in payer_error.message

    assert input_files(server) == {f"{batch[i][1].prediction_id}-image" for i in admitted}
    with server.runtime.database.session() as session:
        kept = set(session.scalars(select(Prediction.id)).all())
        assert kept == {batch[i][1].prediction_id for i in admitted}
        charges = session.scalars(
            select(LedgerEntry).where(LedgerEntry.account_id == payer.account_id).order_by(LedgerEntry.id)
        ).all()
        assert [(e.kind, e.amount_micros, e.balance_after_micros) for e in charges] == [
            ("topup", 2 * PRICE, 2 * PRICE), ("charge", -PRICE, PRICE), ("charge", -PRICE, 0)
        ]
        for key in (payer, capped):
            account = account_store.get(session, key.account_id)
            assert account is not None
            assert account.balance_micros == account_store.ledger_sum(session, key.account_id)
    with server.runtime.database.write() as connection:
        counted = account_store.counted_in_flight(connection, payer.id, IN_FLIGHT)
        assert account_store.in_flight(connection, payer.id) == counted
        assert account_store.in_flight(connection, capped.id) == 1 == account_store.counted_in_flight(
            connection, capped.id, IN_FLIGHT
        )


def test_a_job_that_fails_in_the_transaction_fails_alone(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    payer = customer(server, "10")
    twice = secrets.token_hex(16)
    batch = [(payer, job()), (payer, job(twice, with_image=False)), (payer, job(twice, with_image=False)),
             (payer, job())]
    outcomes = accept_together(server, batch)

    assert isinstance(outcomes[2], IntegrityError), "the second row with the same id breaks the primary key"
    assert all(isinstance(outcomes[i], PredictionView) for i in (0, 1, 3))
    assert input_files(server) == {f"{batch[i][1].prediction_id}-image" for i in (0, 3)}
    with server.runtime.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Prediction)) == 3
        assert account_store.ledger_sum(session, payer.account_id) == 10_000_000 - 3 * PRICE
        account = account_store.get(session, payer.account_id)
        assert account is not None and account.balance_micros == 10_000_000 - 3 * PRICE


def test_jobs_arriving_while_a_batch_waits_for_the_database_form_the_next(
    start_sqlite_server: ServerFactory,
) -> None:
    server = start_sqlite_server(workers=0)
    payer = customer(server, "10")
    intake = server.runtime.predictions.intake
    holding, release = threading.Event(), threading.Event()

    def hold_the_database() -> None:
        with server.runtime.database.write():
            holding.set()
            release.wait(60)

    async def two_turns() -> tuple[list[PredictionView], list[PredictionView], bool]:
        first = [asyncio.ensure_future(intake.accept_soon(payer, job())) for _ in range(3)]
        await asyncio.sleep(0.3)
        second = [asyncio.ensure_future(intake.accept_soon(payer, job())) for _ in range(4)]
        await asyncio.sleep(0.3)
        waited = not any(future.done() for future in first + second)
        release.set()
        return list(await asyncio.gather(*first)), list(await asyncio.gather(*second)), waited

    holder = threading.Thread(target=hold_the_database)
    holder.start()
    assert holding.wait(30)
    try:
        with admitted_batches() as batches:
            first, second, waited = asyncio.run(two_turns())
    finally:
        release.set()
        holder.join()
    assert waited, "no job was admitted while another writer held the database"
    assert len(first) == 3 and len(second) == 4
    assert batches == [3, 4], "one transaction per batch"
    with server.runtime.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Prediction)) == 7


def test_each_client_of_a_burst_gets_its_own_prediction(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    payer = server.other_key("payer", balance_usd="100")
    image = base64.b64encode(IMAGE).decode()

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=40, max_keepalive_connections=40)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=120, limits=limits,
                                     headers={"Authorization": payer}) as client:
            return await asyncio.gather(*(
                client.post(f"/api/v3/{SEED_ROUTE}", json={"prompt": f"zoom in {n}", "image": image, "duration": 3})
                for n in range(40)
            ))

    answers = asyncio.run(burst())
    assert [answer.status_code for answer in answers] == [200] * 40
    ids = [answer.json()["data"]["id"] for answer in answers]
    assert len(set(ids)) == 40
    for n, prediction_id in enumerate(ids):
        polled = server.client.get(f"/api/v3/predictions/{prediction_id}/result", headers={"Authorization": payer})
        assert polled.json()["data"]["input"]["prompt"] == f"zoom in {n}"
