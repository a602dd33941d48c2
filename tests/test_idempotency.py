"""`Idempotency-Key` on submit: the same key and body from the same API key answer the first prediction again,
charged once, even under concurrent identical requests; the same key with another body is refused."""

from __future__ import annotations

import asyncio
import base64

import httpx

from reelserve.store import accounts as account_store
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes

IMAGE = base64.b64encode(image_bytes(640, 360)).decode()
BODY = {"prompt": "zoom in", "image": IMAGE, "duration": 5}
PRICE = 0.21


def test_twenty_concurrent_identical_submits_make_one_prediction_and_one_charge(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    created = server.runtime.keys.create("customer", balance_usd="10")
    headers = {"Authorization": created.secret, "Idempotency-Key": "order-1234"}

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60, headers=headers) as client:
            return await asyncio.gather(*(client.post(f"/api/v3/{SEED_ROUTE}", json=BODY) for _ in range(20)))

    answers = asyncio.run(burst())
    assert [answer.status_code for answer in answers] == [200] * 20, [a.text for a in answers if a.status_code != 200]
    assert len({answer.json()["data"]["id"] for answer in answers}) == 1
    balance = server.client.get("/api/v3/balance", headers={"Authorization": created.secret}).json()["data"]["balance"]
    assert balance == round(10 - PRICE, 6)
    history = server.client.get("/api/v3/predictions", headers={"Authorization": created.secret}).json()["data"]
    assert history["total"] == 1
    with server.runtime.database.session() as session:
        account = account_store.get(session, created.info.account_id)
        assert account is not None
        assert account.balance_micros == account_store.ledger_sum(session, created.info.account_id)

    again = server.client.post(f"/api/v3/{SEED_ROUTE}", json=BODY, headers=headers)
    assert again.json()["data"]["id"] == answers[0].json()["data"]["id"]
    changed = server.client.post(f"/api/v3/{SEED_ROUTE}", json={**BODY, "duration": 6}, headers=headers)
    assert changed.status_code == 400 and "already used with a different request" in changed.json()["message"]
    other_key = server.client.post(f"/api/v3/{SEED_ROUTE}", json=BODY,
                                   headers={"Idempotency-Key": "order-1234"})
    assert other_key.status_code == 200 and other_key.json()["data"]["id"] != answers[0].json()["data"]["id"], (
        "keys are per API key"
    )
    fresh = server.client.post(f"/api/v3/{SEED_ROUTE}", json=BODY,
                               headers={**headers, "Idempotency-Key": "order-1235"})
    assert fresh.json()["data"]["id"] != answers[0].json()["data"]["id"]
    too_long = server.client.post(f"/api/v3/{SEED_ROUTE}", json=BODY, headers={**headers, "Idempotency-Key": "k" * 300})
    assert too_long.status_code == 400


def test_a_refused_submit_does_not_use_up_its_idempotency_key(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    created = server.runtime.keys.create("poor", balance_usd="0.1")
    headers = {"Authorization": created.secret, "Idempotency-Key": "retry-me"}
    refused = server.client.post(f"/api/v3/{SEED_ROUTE}", json=BODY, headers=headers)
    assert refused.status_code == 403
    admin_id = created.info.id
    server.runtime.billing.top_up(admin_id, "1")
    accepted = server.client.post(f"/api/v3/{SEED_ROUTE}", json=BODY, headers=headers)
    assert accepted.status_code == 200, accepted.text
