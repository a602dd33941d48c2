from __future__ import annotations

import httpx
import pytest

from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.server import RunningServer


@pytest.mark.parametrize(
    "authorization", [None, "", "sk-nope", "Bearer sk-nope", "Bearer", "Basic dXNlcjpwYXNz"]
)
def test_missing_or_unknown_key_answers_401(api_server: RunningServer, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with httpx.Client(base_url=api_server.base_url, headers=headers) as anonymous:
        for response in (
            anonymous.post(f"/api/v3/{SEED_ROUTE}", json={"prompt": "p"}),
            anonymous.get("/api/v3/predictions/" + "a" * 32 + "/result"),
            anonymous.get("/api/v3/predictions/" + "a" * 32),
        ):
            assert response.status_code == 401
            body = response.json()
            assert body["code"] == 401 and body["data"] is None
            assert body["error"]["type"] == "authentication_error"


def test_raw_and_bearer_keys_both_work(api_server: RunningServer, image_url: str) -> None:
    body = {"prompt": "p", "image": image_url}
    for authorization in (api_server.key, f"Bearer {api_server.key}", f"bearer  {api_server.key}"):
        response = api_server.client.post(
            f"/api/v3/{SEED_ROUTE}", json=body, headers={"Authorization": authorization}
        )
        assert response.status_code == 200, response.text


def test_revoked_key_answers_401(start_server: ServerFactory, image_url: str) -> None:
    server = start_server(workers=0)
    created = server.runtime.keys.create("temporary", balance_usd="10")
    assert server.submit(SEED_ROUTE, {"prompt": "p", "image": image_url}, key=created.secret).status_code == 200
    server.runtime.keys.revoke(created.info.id)
    response = server.submit(SEED_ROUTE, {"prompt": "p", "image": image_url}, key=created.secret)
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


def test_keys_are_stored_only_as_hashes(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    from sqlalchemy import text

    with server.runtime.database.engine.connect() as connection:
        rows = connection.execute(text("SELECT key_hash, key_prefix FROM api_keys")).all()
    assert rows
    for key_hash, prefix in rows:
        assert server.key not in key_hash and len(key_hash) == 64
        assert len(prefix) < len(server.key)
