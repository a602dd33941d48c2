"""Malformed input of every class found answers 400 (403 for a bad link) in the error envelope, never 500, and
keeps the connection: odd query values on signed links, JSON the standard library cannot represent safely,
multi_prompt durations that overflow, malformed URLs, and amounts past the 64-bit range."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from sqlalchemy import text

from reelserve.service.keys import KeyLimits
from reelserve.store import accounts as account_store
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.hostile import assert_error_envelope, fetch_nothing
from tests.support.images import image_bytes
from tests.support.server import ROOMY, RunningServer

PRO_ROUTE = "kwaivgi/kling-v2.5-turbo-pro/image-to-video"
V30 = "kwaivgi/kling-v3.0-std/image-to-video"
IMAGE = base64.b64encode(image_bytes(320, 320)).decode()
HUGE = "1" + "0" * 5000
DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture(scope="module")
def server(api_server: RunningServer) -> Iterator[RunningServer]:
    fetch_nothing(api_server.runtime)
    yield api_server


@pytest.fixture(scope="module")
def admin(server: RunningServer) -> str:
    return server.runtime.keys.create("admin", role="admin", limits=ROOMY).secret


@pytest.fixture(scope="module")
def uploaded_url(server: RunningServer) -> str:
    response = server.client.post("/api/v3/media/upload/binary", files={"file": ("a.png", image_bytes(320, 320))})
    assert response.status_code == 200, response.text
    return response.json()["data"]["download_url"]


def with_query(url: str, **replaced: str) -> str:
    """`url` with some query values replaced by raw (already percent-encoded) text."""
    parts = urlsplit(url)
    query = {name: quote(values[0], safe="") for name, values in parse_qs(parts.query).items()}
    query.update(replaced)
    return parts._replace(query="&".join(f"{name}={value}" for name, value in query.items())).geturl()


ODD_SIGNATURES = [
    "%C3%A9" * 64,  # é: hmac.compare_digest refuses non-ASCII text
    "%D9%A3" * 64,  # Arabic-Indic digit three
    "%FF%FE",  # not UTF-8 at all
    "%ED%A0%80",  # an encoded surrogate
    "%00",
    "a" * 10_000,
    "",
    "%F0%9F%98%80",
]
ODD_EXPIRES = [
    "%D9%A1%D9%A7" + "%D9%A0" * 8,  # the digits of a real Unix time, in another script: int() reads them
    "+1900000000",
    "%201900000000",
    "1_900_000_000",
    "9" * 5000,
    "-1",
    "",
    "1e10",
    "%C3%A9",
]


@pytest.mark.parametrize("signature", ODD_SIGNATURES)
def test_odd_signatures_on_file_links(server: RunningServer, uploaded_url: str, signature: str) -> None:
    assert httpx.get(uploaded_url).status_code == 200
    assert_error_envelope(server.client.get(with_query(uploaded_url, signature=signature)), 403)


@pytest.mark.parametrize("expires", ODD_EXPIRES)
def test_odd_expiry_times_on_file_links(server: RunningServer, uploaded_url: str, expires: str) -> None:
    assert_error_envelope(server.client.get(with_query(uploaded_url, expires=expires)), 403)


def test_odd_query_values_on_upload_put_urls(server: RunningServer) -> None:
    announced = server.client.post("/api/v3/media/uploads", json={"filename": "a.png", "size": 10})
    put_url = announced.json()["data"]["upload"]["url"]
    for signature in ODD_SIGNATURES:
        assert_error_envelope(httpx.put(with_query(put_url, signature=signature), content=b"x"), 403)
    for expires in ODD_EXPIRES:
        assert_error_envelope(httpx.put(with_query(put_url, expires=expires), content=b"x"), 403)


@pytest.mark.parametrize("value", [*ODD_SIGNATURES[:5], "%2F..%2F..", "1" * 5000])
def test_odd_query_values_on_upload_urls_given_as_image(
    server: RunningServer, uploaded_url: str, value: str
) -> None:
    for field in ("signature", "expires"):
        url = with_query(uploaded_url, **{field: value})
        body = assert_error_envelope(server.submit(SEED_ROUTE, {"prompt": "p", "image": url}), 400)
        assert body["error"]["param"] == "image"


# JSON bodies: the submit routes and voice creation read theirs themselves; pricing, the admin API and upload
# announcements are parsed by FastAPI. Each must refuse the same inputs.
HOSTILE_BODIES = {
    "huge integer": '{"prompt": "p", "duration": ' + HUGE + "}",
    "huge integer as a key's value deep inside": '{"prompt": "p", "multi_prompt": [{"index": ' + HUGE + "}]}",
    "huge negative integer": '{"prompt": -' + HUGE + "}",
    "nesting 5000 deep": DEEP,
    "nesting 5000 deep in a field": '{"prompt": "p", "image": ' + DEEP + "}",
    "nesting 40 deep": '{"prompt": ' + "[" * 40 + "]" * 40 + "}",
    "objects nested 3000 deep": '{"a":' * 3000 + "1" + "}" * 3000,
    "NaN": '{"prompt": "p", "guidance_scale": NaN}',
    "Infinity": '{"prompt": "p", "duration": Infinity}',
    "overflowing float": '{"prompt": "p", "guidance_scale": 1e400}',
    "lone surrogate": '{"prompt": "\\ud800 zoom"}',
    "lone surrogate as a key": '{"\\udfff": 1, "prompt": "p"}',
    "invalid UTF-8": b'{"prompt": "\xff\xfe"}',
    "encoded surrogate": b'{"prompt": "\xed\xa0\x80"}',
    "UTF-16": '{"prompt": "p"}'.encode("utf-16"),
    "truncated": '{"prompt": "p", "image": "',
    "a bare number": HUGE,
    "control characters": '{"prompt": "\x00\x01"}',
}


def post_raw(server: RunningServer, path: str, body: str | bytes, key: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json", **({"Authorization": key} if key else {})}
    return server.client.post(path, content=body.encode() if isinstance(body, str) else body, headers=headers)


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_json_bodies_on_every_kind_of_route(server: RunningServer, admin: str, name: str) -> None:
    body = HOSTILE_BODIES[name]
    paths = [f"/api/v3/{SEED_ROUTE}", f"/api/v3/{V30}", "/api/v3/kwaivgi/kling_custom_voice/create_voice",
             "/api/v3/model/pricing", "/api/v3/media/uploads", "/admin/keys"]
    for path in paths:
        # Twice: the first request looks the key up; the second meets it in the recent-keys cache, which
        # answers generation routes in front of FastAPI (api/fast_path.py).
        for _ in range(2):
            response = post_raw(server, path, body, key=admin)
            assert_error_envelope(response, 400)
            assert response.headers.get("connection") != "close", "the connection is kept"


def test_the_same_client_keeps_its_connection_through_refusals(server: RunningServer, admin: str) -> None:
    with httpx.Client(base_url=server.base_url, headers={"Authorization": admin}) as client:
        for body in HOSTILE_BODIES.values():
            content = body.encode() if isinstance(body, str) else body
            response = client.post(f"/api/v3/{SEED_ROUTE}", content=content,
                                   headers={"Content-Type": "application/json"})
            assert_error_envelope(response, 400)
            assert response.headers.get("connection") != "close"
        assert client.get("/api/v3/balance").status_code == 200


def segments(*durations: Any) -> list[dict[str, Any]]:
    return [{"index": i, "prompt": f"shot {i}", "duration": d} for i, d in enumerate(durations, start=1)]


ODD_DURATIONS = [
    "1E+1000000", "1e+1000000", "-1E+1000000", "1E-1000000", "1e3", "2e0", "NaN", "nan", "Infinity", "-Infinity",
    "sNaN", "-2", "+2", "0", "0.0", "٣", "\uff12", "0x2", "2.5.1", "", " ", "2,5", "1" * 5000, "1." + "0" * 5000,
    1e308, -1e308, 10**4000, 0, -3, True, None, [], {}, "2 s",
]


@pytest.mark.parametrize("duration", ODD_DURATIONS, ids=[repr(d)[:20] for d in ODD_DURATIONS])
def test_odd_multi_prompt_durations_on_submit_and_pricing(
    server: RunningServer, duration: Any
) -> None:
    params = {"prompt": "p", "image": IMAGE, "duration": 5, "multi_prompt": segments("2", duration)}
    submitted = assert_error_envelope(server.submit(V30, params), 400)
    assert submitted["error"]["param"].startswith("multi_prompt"), submitted
    priced = server.client.post("/api/v3/model/pricing", json={"model_id": V30, "inputs": params})
    assert assert_error_envelope(priced, 400)["error"]["param"].startswith("multi_prompt")


MALFORMED_URLS = [
    "http://[::1/", "http://[::1", "https://[::1/a.png", "http://[::1]x/", "http://[v1.x]/", "http://[]/",
    "https://[fe80::1%25eth0]/a.png", "http://" + "1" * 5000 + "/a.png", "http://" + "9" * 5000,
    "http://0x" + "f" * 5000 + "/", "http://0" + "7" * 5000 + "/", "http://1." + "2" * 5000 + "/",
    "http://1.2.3.4.5/", "http://" + "a." * 3000 + "com/", "http://" + "a" * 300 + ".com/", "http://%zz/",
    "http://exa mple.com/", "http://user:pw@example.com/", "http://example.com:99999/", "http://example.com:port/",
    "http://example.com:-1/", "http:///a.png", "http:\\\\example.com\\a.png", "ftp://example.com/a.png",
    "http://" + "é" * 1000 + "/", "http://xn--/", "http://xn--a.com/", "http://.../", "http://a..b/",
    "http://\u0000/", "http://exa\tmple.com/", "//example.com/a.png", "http:", "http://", "https://:80/",
    "http://[::ffff:127.0.0.1]/", "http://127.1/", "http://0177.0.0.1/", "http://localhost./",
    "http://example.com/files/uploads/", "http://example.com/files/uploads/x/y?expires=1&signature=%C3%A9",
    "http://example.com/files/uploads/x/y?expires=" + "9" * 5000, "http://example.com/" + "a" * 10_000,
]


@pytest.mark.parametrize("url", MALFORMED_URLS, ids=[url[:30] for url in MALFORMED_URLS])
def test_malformed_urls_in_image_end_image_and_audio(server: RunningServer, url: str) -> None:
    image = assert_error_envelope(server.submit(SEED_ROUTE, {"prompt": "p", "image": url}), 400)
    assert image["error"]["param"] == "image", image
    end = assert_error_envelope(server.submit(PRO_ROUTE, {"prompt": "p", "image": IMAGE, "end_image": url}), 400)
    assert end["error"]["param"] == "end_image", end
    audio = assert_error_envelope(
        server.client.post("/api/v3/kwaivgi/kling_custom_voice/create_voice", json={"audio": url}), 400
    )
    assert audio["error"]["param"] == "audio", audio


ODD_AMOUNTS: list[Any] = [
    1e30, 2**64, 2**63, 10**4000, "1E+1000000", "1e30", "9223372036854.775808", "9223372036855", "NaN", "Infinity",
    "-Infinity", "sNaN", -1, "abc", [], {"a": 1}, True,
]


@pytest.mark.parametrize("amount", ODD_AMOUNTS, ids=[repr(a)[:20] for a in ODD_AMOUNTS])
def test_admin_amounts_past_the_64_bit_range(server: RunningServer, admin: str, amount: Any) -> None:
    auth = {"Authorization": admin}
    created = server.client.post("/admin/keys", json={"name": "n", "balance": amount}, headers=auth)
    assert assert_error_envelope(created, 400)["error"].get("param") in ("balance", None)
    key_id = server.client.post("/admin/keys", json={"name": "n"}, headers=auth).json()["data"]["id"]
    topped = server.client.post(f"/admin/keys/{key_id}/topup", json={"amount": amount}, headers=auth)
    assert_error_envelope(topped, 400)
    assert server.client.get(f"/admin/keys/{key_id}", headers=auth).json()["data"]["balance"] == 0


ODD_LIMITS: list[Any] = [2**31, 2**63, 2**64, 10**4000, 0, -1, 1.5, "many"]


@pytest.mark.parametrize("limit", ODD_LIMITS, ids=[repr(limit)[:20] for limit in ODD_LIMITS])
def test_admin_limits_out_of_range(server: RunningServer, admin: str, limit: Any) -> None:
    for field in ("rpm", "max_concurrency"):
        response = server.client.post("/admin/keys", json={"name": "n", field: limit},
                                      headers={"Authorization": admin})
        assert assert_error_envelope(response, 400)["error"]["param"] == field


def test_a_balance_near_the_64_bit_limit_stays_an_exact_integer(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    admin = server.runtime.keys.create("admin", role="admin").secret
    auth = {"Authorization": admin}
    created = server.client.post("/admin/keys", json={"name": "rich", "balance": "9223372036854"}, headers=auth)
    assert created.status_code == 200, created.text
    key_id = created.json()["data"]["id"]

    for amount in ("1", "0.775808", 2**63, "9223372036854.775807"):
        refused = server.client.post(f"/admin/keys/{key_id}/topup", json={"amount": amount}, headers=auth)
        assert "largest amount" in assert_error_envelope(refused, 400)["message"]
    exact = server.client.post(f"/admin/keys/{key_id}/topup", json={"amount": "0.775807"}, headers=auth)
    assert exact.status_code == 200, exact.text
    refused = server.client.post(f"/admin/keys/{key_id}/topup", json={"amount": "0.000001"}, headers=auth)
    assert_error_envelope(refused, 400)

    database = server.runtime.database
    with database.session() as session:
        account_id = session.execute(text("SELECT account_id FROM api_keys WHERE id = :id"), {"id": key_id}).scalar()
        balance = session.execute(
            text("SELECT balance_micros FROM accounts WHERE id = :id"), {"id": account_id}
        ).scalar()
        assert balance == 2**63 - 1 and type(balance) is int
        assert account_store.ledger_sum(session, account_id) == balance
        if database.is_sqlite:
            kinds = session.execute(
                text("SELECT DISTINCT typeof(balance_micros) FROM accounts UNION "
                     "SELECT DISTINCT typeof(amount_micros) FROM ledger_entries")
            ).scalars().all()
            assert set(kinds) == {"integer"}, "no balance or amount ever became a float"
    shown = server.client.get(f"/admin/keys/{key_id}", headers=auth)
    assert shown.status_code == 200 and shown.json()["data"]["balance"] == pytest.approx(9223372036854.775807)

    # The CLI's path into the same service refuses alike.
    with pytest.raises(Exception, match="largest amount"):
        server.runtime.billing.top_up(key_id, "1")
    with pytest.raises(Exception, match="from 1 to"):
        server.runtime.keys.create("x", limits=KeyLimits(rpm=2**40))


@pytest.mark.parametrize(
    "path",
    ["/api/v3/predictions/{id}", "/api/v3/predictions/{id}/result", "/api/v3/voices/{id}", "/admin/keys/{id}",
     "/admin/keys/{id}/topup", "/admin/keys/{id}/revoke"],
)
def test_a_404_echoes_at_most_a_short_id(server: RunningServer, admin: str, path: str) -> None:
    long_id = "x" * 5000 + "tail"
    url = path.format(id=long_id)
    method = "POST" if url.endswith(("topup", "revoke")) else "GET"
    response = server.client.request(method, url, headers={"Authorization": admin}, json={"amount": 1})
    body = assert_error_envelope(response, 404)
    assert "tail" not in body["message"] and len(body["message"]) < 120, body["message"]
    assert "x" * 40 in body["message"], "the start of the id is still shown"


def test_an_unknown_model_id_is_echoed_short(server: RunningServer) -> None:
    response = server.client.post("/api/v3/model/pricing", json={"model_id": "m" * 5000, "inputs": {}})
    assert len(assert_error_envelope(response, 404)["message"]) < 120
