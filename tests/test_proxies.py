"""Where absolute URLs in answers come from: REELSERVE_PUBLIC_URL when set, else the request's Host header; and
X-Forwarded-Proto/-For believed only from REELSERVE_TRUSTED_PROXIES (by default from no one)."""

from __future__ import annotations

import base64
import json
import socket

import httpx
import pytest

from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes

IMAGE = base64.b64encode(image_bytes(320, 320)).decode()
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


def links_of(server_url: str, key: str, headers: dict[str, str]) -> tuple[str, str]:
    """The result link of a new prediction and the download link of a new upload, as the server wrote them."""
    submitted = httpx.post(f"{server_url}/api/v3/{SEED_ROUTE}", headers={"Authorization": key, **headers},
                           json={"prompt": "zoom in", "image": IMAGE, "duration": 3})
    assert submitted.status_code == 200, submitted.text
    uploaded = httpx.post(f"{server_url}/api/v3/media/upload/binary", headers={"Authorization": key, **headers},
                          files={"file": ("a.png", image_bytes(320, 320), "image/png")})
    assert uploaded.status_code == 200, uploaded.text
    return submitted.json()["data"]["urls"]["get"], uploaded.json()["data"]["download_url"]


def test_forwarded_headers_are_ignored_unless_the_proxy_is_trusted(start_sqlite_server: ServerFactory) -> None:
    untrusting = start_sqlite_server(workers=0)
    for link in links_of(untrusting.base_url, untrusting.key, FORWARDED):
        assert link.startswith(untrusting.base_url + "/"), link


def test_a_trusted_proxy_sets_the_scheme(start_sqlite_server: ServerFactory) -> None:
    trusting = start_sqlite_server(workers=0, trusted_proxies=["127.0.0.0/8"])
    host = trusting.base_url.removeprefix("http://")
    for link in links_of(trusting.base_url, trusting.key, FORWARDED):
        assert link.startswith(f"https://{host}/"), link
    for link in links_of(trusting.base_url, trusting.key, {}):
        assert link.startswith(f"http://{host}/"), "without the header, the connection's own scheme"


def test_other_proxies_are_not_trusted(start_sqlite_server: ServerFactory) -> None:
    elsewhere = start_sqlite_server(workers=0, trusted_proxies=["10.0.0.1", "192.168.0.0/16"])
    for link in links_of(elsewhere.base_url, elsewhere.key, FORWARDED):
        assert link.startswith("http://"), link


def test_the_host_header_shapes_links_unless_the_public_url_is_set(start_sqlite_server: ServerFactory) -> None:
    from_host = start_sqlite_server(workers=0)
    for link in links_of(from_host.base_url, from_host.key, {"Host": "attacker.example"}):
        assert link.startswith("http://attacker.example/"), "the documented risk without REELSERVE_PUBLIC_URL"
    pinned = start_sqlite_server(workers=0, public_url="https://video.example.com")
    for link in links_of(pinned.base_url, pinned.key, {"Host": "attacker.example", **FORWARDED}):
        assert link.startswith("https://video.example.com/"), link


@pytest.mark.parametrize("host", [b"", b" ", b"a" * 5000, b"ex ample.com", b"[::1", b"host:99999", b"host:port",
                                  "é.com".encode(), b"\xff\xfe", b"a/b", b"a?b", b"a#b", b"@", b"a\tb"])
def test_odd_host_headers_never_answer_5xx(start_sqlite_server: ServerFactory, host: bytes) -> None:
    server = start_sqlite_server(workers=0)
    body = json.dumps({"prompt": "zoom in", "image": IMAGE, "duration": 3}).encode()
    request = (f"POST /api/v3/{SEED_ROUTE} HTTP/1.1\r\n".encode() + b"Host: " + host + b"\r\n"
               + f"Authorization: {server.key}\r\nContent-Type: application/json\r\n".encode()
               + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert status < 500, answer[:500]
