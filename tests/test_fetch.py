"""Safe fetching of user-supplied URLs.

Hostile URLs are refused by `check_url` before any socket exists; a tripwire fails any test
that tries to connect anywhere but loopback or to resolve a name through the system resolver.
Positive tests fetch real bytes from a threaded HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address, ip_network
from pathlib import Path
from shutil import which
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from reelserve.errors import InputError
from reelserve.net.fetch import FetchPolicy, check_url, fetch_url
from tests.support.timing import collector_paused

NAMES: dict[str, list[str]] = {
    "public.test": ["93.184.216.34"],
    "public6.test": ["2606:4700:4700::1111"],
    "images.test": ["127.0.0.1"],
    "other.test": ["127.0.0.1"],
    "rebind.test": ["10.0.0.1"],
    "evil.test": ["169.254.169.254"],
    "mixed.test": ["93.184.216.34", "127.0.0.1"],
    "mixed6.test": ["2606:4700:4700::1111", "fd00::1"],
    "localhost": ["127.0.0.1", "::1"],
    "cgnat.test": ["100.64.1.2"],
    "mapped.test": ["::ffff:192.168.1.1"],
    "nat64.test": ["64:ff9b::a9fe:a9fe"],
    "linklocal6.test": ["fe80::1%1"],
    "xn--bcher-kva.test": ["10.1.2.3"],
}


def resolve_test_name(host: str, port: int) -> list[str]:
    if host not in NAMES:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return NAMES[host]


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail the test at once on a connection to anything but loopback, or a lookup of a real name."""
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        attempts.append(str(address[0]))
        if not ip_address(str(address[0]).split("%")[0]).is_loopback:
            raise AssertionError(f"test tried to connect to {address}")
        real_connect(sock, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            ip_address(host.decode() if isinstance(host, bytes) else str(host))
        except ValueError:
            raise AssertionError(f"test tried to resolve {host!r} through the system resolver") from None
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    return attempts


HOSTILE_URLS: list[tuple[str, str]] = [
    ("ftp://public.test/cat.png", "must use http or https"),
    ("file:///etc/passwd", "must use http or https"),
    ("gopher://public.test:70/_GET", "must use http or https"),
    ("javascript:alert(1)", "must use http or https"),
    ("//public.test/cat.png", "must use http or https"),
    ("http:public.test/cat.png", "must be an absolute URL"),
    ("http:///cat.png", "has no host"),
    ("http://:80/cat.png", "has no host"),
    ("http://user:secret@public.test/cat.png", "user name or password"),
    ("http://public.test@127.0.0.1/cat.png", "user name or password"),
    ("http://public.test\\@127.0.0.1/", "contains a backslash"),
    ("http://public.test\\.evil.test/", "contains a backslash"),
    ("http://public .test/cat.png", "space in its host"),
    ("http://public.test/\r\nX-Injected: 1", "the control character '\\r'"),
    ("http://public.test\t/", "the control character '\\t'"),
    ("http://127.0.0.1/", "127.0.0.1, a loopback address"),
    ("http://127.0.0.1./", "127.0.0.1, a loopback address"),
    ("http://2130706433/", "another spelling of 127.0.0.1, a loopback address"),
    ("http://0177.0.0.1/", "another spelling of 127.0.0.1, a loopback address"),
    ("http://0x7f.1/", "another spelling of 127.0.0.1, a loopback address"),
    ("http://0x7f000001/", "127.0.0.1, a loopback address"),
    ("http://017700000001/", "127.0.0.1, a loopback address"),
    ("http://127.1/", "127.0.0.1, a loopback address"),
    ("http://127.0.1/", "127.0.0.1, a loopback address"),
    ("http://\uff10x7f.0.0.1/", "127.0.0.1, a loopback address"),  # full-width digits
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "127.0.0.1, a loopback address"),
    ("http://0/", "0.0.0.0, the unspecified address"),
    ("http://0.0.0.0/", "0.0.0.0, the unspecified address"),
    ("http://10.0.0.1/", "10.0.0.1, a private address"),
    ("http://172.16.5.4/", "a private address"),
    ("http://192.168.1.1/", "a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254, a link-local address"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://198.18.0.1/", "a benchmarking address"),
    ("http://192.0.2.10/", "a documentation address"),
    ("http://224.0.0.1/", "a multicast address"),
    ("http://240.0.0.1/", "a reserved address"),
    ("http://255.255.255.255/", "the broadcast address"),
    ("http://1.2.3.256/", "neither a domain name nor a valid IPv4 address"),
    ("http://foo.123/", "neither a domain name nor a valid IPv4 address"),
    ("http://[::1]/", "::1, a loopback address"),
    ("http://[::]/", "the unspecified address"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped address embedding 127.0.0.1, a loopback address"),
    ("http://[::ffff:a9fe:a9fe]/", "embedding 169.254.169.254, a link-local address"),
    ("http://[::127.0.0.1]/", "IPv4-compatible address embedding 127.0.0.1"),
    ("http://[2002:7f00:1::1]/", "6to4 tunnel address embedding 127.0.0.1"),
    ("http://[2002:c0a8:101::1]/", "6to4 tunnel address embedding 192.168.1.1, a private address"),
    ("http://[64:ff9b::a00:1]/", "NAT64 address embedding 10.0.0.1, a private address"),
    ("http://[64:ff9b:1::1]/", "local-use NAT64"),
    ("http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", "Teredo tunnel address embedding 10.0.0.1"),
    ("http://[fe80::1%25eth0]/", "zone identifier"),
    ("http://[fe80::1]/", "a link-local address"),
    ("http://[fd12:3456::1]/", "unique-local"),
    ("http://[fec0::1]/", "site-local"),
    ("http://[ff02::1]/", "a multicast address"),
    ("http://[2001:db8::1]/", "a documentation address"),
    ("http://[::1/", "unclosed '['"),
    ("http://[not-an-address]/", "invalid IPv6 address"),
    ("http://%31%32%37.0.0.1/", "percent-encoded host"),
    ("http://exa_mple..test/", "invalid host name"),
    ("http://public.test:8080/cat.png", "uses port 8080"),
    ("http://public.test:22/", "uses port 22"),
    ("http://public.test:0/", "invalid port 0"),
    ("http://public.test:99999/", "invalid port"),
    ("http://public.test:80x/", "invalid port"),
    ("http://localhost/", "host 'localhost' resolves to 127.0.0.1, a loopback address"),
    ("http://rebind.test/cat.png", "host 'rebind.test' resolves to 10.0.0.1, a private address"),
    ("http://evil.test/", "169.254.169.254, a link-local address"),
    ("https://mixed.test/", "host 'mixed.test' resolves to 127.0.0.1, a loopback address"),
    ("https://mixed6.test/", "fd00::1, a unique-local"),
    ("http://cgnat.test/", "carrier-grade NAT"),
    ("http://mapped.test/", "embedding 192.168.1.1, a private address"),
    ("http://nat64.test/", "embedding 169.254.169.254, a link-local address"),
    ("http://linklocal6.test/", "fe80::1%1"),
    ("http://no-such-host.test/", "could not be resolved"),
    ("http://public.test/" + "a" * 9000, "longer than"),
    ("", "is empty"),
]


@pytest.mark.parametrize(("url", "reason"), HOSTILE_URLS)
def test_hostile_url_is_refused_by_the_check(url: str, reason: str, only_loopback: list[str]) -> None:
    with pytest.raises(InputError) as refusal:
        check_url(url, FetchPolicy(resolver=resolve_test_name), param="image")
    assert reason in refusal.value.message
    assert refusal.value.message.startswith("image URL")
    assert refusal.value.param == "image"
    assert only_loopback == []


@pytest.mark.parametrize(("url", "reason"), HOSTILE_URLS)
def test_hostile_url_is_refused_by_fetch_without_connecting(
    url: str, reason: str, only_loopback: list[str]
) -> None:
    with pytest.raises(InputError) as refusal:
        fetch_url(url, FetchPolicy(resolver=resolve_test_name), param="end_image")
    assert reason in refusal.value.message
    assert refusal.value.param == "end_image"
    assert only_loopback == []


def test_hostile_table_is_long_enough() -> None:
    assert len(HOSTILE_URLS) >= 30


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("https://public.test/cat.png", ["93.184.216.34"]),
        ("HTTPS://PUBLIC.TEST./cat.png", ["93.184.216.34"]),
        ("http://public6.test/", ["2606:4700:4700::1111"]),
        ("http://93.184.216.34/cat.png", ["93.184.216.34"]),
        ("http://[2606:4700:4700::1111]:443/", ["2606:4700:4700::1111"]),
        ("http://[::ffff:93.184.216.34]/", ["::ffff:5db8:d822"]),
        ("http://[64:ff9b::5db8:d822]/", ["64:ff9b::5db8:d822"]),
    ],
)
def test_public_urls_pass_the_check(url: str, addresses: list[str]) -> None:
    target = check_url(url, FetchPolicy(resolver=resolve_test_name), param="image")
    assert [str(address) for address in target.addresses] == addresses


def test_check_normalises_the_url_it_will_fetch() -> None:
    target = check_url(
        "HTTP://Public.Test./a b%20c/ü?q=ü#frag",
        FetchPolicy(resolver=resolve_test_name),
        param="image",
    )
    assert target.url == "http://public.test/a%20b%20c/%C3%BC?q=%C3%BC"
    assert (target.host, target.port, target.target, target.host_header) == (
        "public.test",
        80,
        "/a%20b%20c/%C3%BC?q=%C3%BC",
        "public.test",
    )


def test_allowed_networks_admit_a_private_range_only() -> None:
    policy = FetchPolicy(resolver=resolve_test_name, allowed_networks=(ip_network("10.0.0.0/8"),))
    assert str(check_url("http://rebind.test/", policy, param="image").addresses[0]) == "10.0.0.1"
    with pytest.raises(InputError, match="link-local"):
        check_url("http://evil.test/", policy, param="image")


def test_internationalised_host_is_resolved_in_its_ascii_form() -> None:
    policy = FetchPolicy(resolver=resolve_test_name, allowed_hosts=("Bücher.Test",))
    assert check_url("http://BÜCHER.test/", policy, param="image").host == "xn--bcher-kva.test"


def test_allowed_hosts_admit_that_host_only() -> None:
    policy = FetchPolicy(resolver=resolve_test_name, allowed_hosts=("Rebind.Test",))
    assert check_url("http://rebind.test/", policy, param="image").host == "rebind.test"
    with pytest.raises(InputError, match="loopback"):
        check_url("http://localhost/", policy, param="image")


def test_allow_private_admits_private_addresses_and_any_port_but_not_multicast() -> None:
    policy = FetchPolicy(resolver=resolve_test_name, allow_private=True)
    assert check_url("http://rebind.test:8080/", policy, param="image").port == 8080
    assert check_url("http://[::1]:5000/", policy, param="image").host_header == "[::1]:5000"
    with pytest.raises(InputError, match="multicast"):
        check_url("http://224.0.0.1/", policy, param="image")
    with pytest.raises(InputError, match="unspecified"):
        check_url("http://0.0.0.0:8000/", policy, param="image")


def test_slow_resolver_counts_against_the_deadline() -> None:
    def slow_resolver(host: str, port: int) -> list[str]:
        time.sleep(1.0)
        return ["93.184.216.34"]

    with collector_paused():
        started = time.monotonic()
        with pytest.raises(InputError, match="took too long to resolve"):
            fetch_url(
                "http://public.test/", FetchPolicy(resolver=slow_resolver, timeout_seconds=0.2), param="image"
            )
        assert time.monotonic() - started < 0.9


# --- real fetches from a loopback server -------------------------------------------------------

PAYLOAD = bytes(range(256)) * 40


@dataclass
class LoopbackServer:
    port: int
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)
    server_names: list[str | None] = field(default_factory=list)  # TLS SNI seen, when serving https


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        record = self.server.record
        record.requests.append((self.path, self.headers.get("Host", "")))
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        route = ROUTES.get(url.path)
        if route is None and url.path.startswith("/hops/"):
            route = _hops
        if route is None:
            self._send(404, b"not here", "text/plain")
            return
        route(self, query)

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _payload(handler: Handler, query: dict[str, str]) -> None:
    handler._send(200, PAYLOAD, "image/png")


def _echo_host(handler: Handler, query: dict[str, str]) -> None:
    handler._send(200, handler.headers.get("Host", "").encode(), "text/plain")


def _hops(handler: Handler, query: dict[str, str]) -> None:
    remaining = int(handler.path.rsplit("/", 1)[1])
    if remaining == 0:
        _payload(handler, query)
    else:
        handler._redirect(f"/hops/{remaining - 1}")


def _redirect_to(handler: Handler, query: dict[str, str]) -> None:
    handler._redirect(query["target"])


def _redirect_without_location(handler: Handler, query: dict[str, str]) -> None:
    handler.send_response(302)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def _declares_huge(handler: Handler, query: dict[str, str]) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", str(10**9))
    handler.end_headers()
    handler.wfile.write(b"x" * 10)


def _chunked_endless(handler: Handler, query: dict[str, str]) -> None:
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"x" * 65536
    try:
        for _ in range(1000):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        return


def _unframed_endless(handler: Handler, query: dict[str, str]) -> None:
    handler.send_response(200)
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    try:
        for _ in range(1000):
            handler.wfile.write(b"x" * 65536)
    except OSError:
        return


def _slow_headers(handler: Handler, query: dict[str, str]) -> None:
    time.sleep(2)
    _payload(handler, query)


def _trickle(handler: Handler, query: dict[str, str]) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    try:
        for _ in range(1000):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.05)
    except OSError:
        return


def _gzipped(handler: Handler, query: dict[str, str]) -> None:
    handler._send(200, gzip.compress(PAYLOAD), "image/png", Content_Encoding="gzip")


ROUTES: dict[str, Callable[[Handler, dict[str, str]], None]] = {
    "/image.png": _payload,
    "/host": _echo_host,
    "/redirect": _redirect_to,
    "/redirect-without-location": _redirect_without_location,
    "/declares-huge": _declares_huge,
    "/chunked-endless": _chunked_endless,
    "/unframed-endless": _unframed_endless,
    "/slow-headers": _slow_headers,
    "/trickle": _trickle,
    "/gzipped": _gzipped,
}


class LoopbackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.record = LoopbackServer(port=self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that hung up on purpose is no error
            super().handle_error(request, client_address)


def _serve(tls: ssl.SSLContext | None = None) -> Iterator[LoopbackServer]:
    httpd = LoopbackHTTPServer()
    record = httpd.record
    if tls is not None:
        tls.sni_callback = lambda _socket, name, _context: record.server_names.append(name)  # type: ignore[assignment]
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    yield from _serve()


def loopback_policy(server: LoopbackServer, **overrides: Any) -> FetchPolicy:
    settings: dict[str, Any] = {
        "allowed_networks": (ip_network("127.0.0.0/8"),),
        "allowed_ports": (80, 443, server.port),
        "resolver": resolve_test_name,
        "timeout_seconds": 5.0,
    }
    return FetchPolicy(**(settings | overrides))


def test_fetches_bytes_from_an_allowed_network(server: LoopbackServer) -> None:
    fetched = fetch_url(f"http://127.0.0.1:{server.port}/image.png", loopback_policy(server), param="image")
    assert fetched.data == PAYLOAD
    assert fetched.content_type == "image/png"
    assert fetched.final_url == f"http://127.0.0.1:{server.port}/image.png"


def test_loopback_is_refused_without_an_allowance(server: LoopbackServer) -> None:
    with pytest.raises(InputError, match=r"127\.0\.0\.1, a loopback address"):
        fetch_url(
            f"http://images.test:{server.port}/image.png",
            loopback_policy(server, allowed_networks=()),
            param="image",
        )
    assert server.requests == []


def test_host_header_names_the_host_while_connecting_to_its_checked_address(server: LoopbackServer) -> None:
    fetched = fetch_url(f"http://images.test:{server.port}/host", loopback_policy(server), param="image")
    assert fetched.data == f"images.test:{server.port}".encode()
    assert server.requests == [("/host", f"images.test:{server.port}")]
    assert fetched.final_url == f"http://images.test:{server.port}/host"


def test_host_is_resolved_once_and_never_again(server: LoopbackServer) -> None:
    """A rebinding resolver answers loopback first and a private address after; only the first is used."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])
    lookups: list[str] = []

    def rebinding_resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return next(answers)

    policy = loopback_policy(server, resolver=rebinding_resolver)
    fetched = fetch_url(f"http://images.test:{server.port}/image.png", policy, param="image")
    assert fetched.data == PAYLOAD
    assert lookups == ["images.test"]


def test_follows_redirects_up_to_the_limit(server: LoopbackServer) -> None:
    fetched = fetch_url(f"http://images.test:{server.port}/hops/3", loopback_policy(server), param="image")
    assert fetched.data == PAYLOAD
    assert fetched.final_url == f"http://images.test:{server.port}/hops/0"
    assert [path for path, _ in server.requests] == ["/hops/3", "/hops/2", "/hops/1", "/hops/0"]


def test_refuses_a_fourth_redirect(server: LoopbackServer) -> None:
    with pytest.raises(InputError, match="redirected more than 3 times"):
        fetch_url(f"http://images.test:{server.port}/hops/4", loopback_policy(server), param="image")
    assert [path for path, _ in server.requests] == ["/hops/4", "/hops/3", "/hops/2", "/hops/1"]


def test_follows_a_redirect_to_another_allowed_host(server: LoopbackServer) -> None:
    target = f"http://other.test:{server.port}/host"
    fetched = fetch_url(
        f"http://images.test:{server.port}/redirect?target={target}", loopback_policy(server), param="image"
    )
    assert fetched.data == f"other.test:{server.port}".encode()
    assert server.requests[-1] == ("/host", f"other.test:{server.port}")


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://rebind.test:{port}/image.png", "host 'rebind.test' resolves to 10.0.0.1, a private address"),
        ("http://evil.test/latest/meta-data/", "169.254.169.254, a link-local address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254, a link-local address"),
        ("http://[::ffff:10.0.0.1]:{port}/", "embedding 10.0.0.1, a private address"),
        ("http://0x0a000001:{port}/", "10.0.0.1, a private address"),
        ("file:///etc/passwd", "must use http or https"),
        ("http://images.test:22/", "uses port 22"),
        ("http://user:pw@images.test:{port}/image.png", "user name or password"),
    ],
)
def test_redirect_to_a_refused_target_is_refused_before_connecting(
    server: LoopbackServer, only_loopback: list[str], location: str, reason: str
) -> None:
    target = location.format(port=server.port)
    with pytest.raises(InputError) as refusal:
        fetch_url(
            f"http://images.test:{server.port}/redirect?target={target}",
            loopback_policy(server),
            param="image",
        )
    assert reason in refusal.value.message
    assert len(server.requests) == 1
    assert set(only_loopback) == {"127.0.0.1"}


def test_relative_redirect_stays_on_the_checked_host(server: LoopbackServer) -> None:
    fetched = fetch_url(
        f"http://images.test:{server.port}/redirect?target=image.png", loopback_policy(server), param="image"
    )
    assert fetched.final_url == f"http://images.test:{server.port}/image.png"


def test_redirect_without_location_is_an_error(server: LoopbackServer) -> None:
    with pytest.raises(InputError, match="HTTP 302 without a Location"):
        fetch_url(
            f"http://images.test:{server.port}/redirect-without-location",
            loopback_policy(server),
            param="image",
        )


def test_http_error_status_is_reported(server: LoopbackServer) -> None:
    with pytest.raises(InputError) as refusal:
        fetch_url(f"http://images.test:{server.port}/missing.png", loopback_policy(server), param="image")
    assert refusal.value.message == "image URL answered HTTP 404"


def test_declared_length_over_the_cap_is_refused_before_reading(server: LoopbackServer) -> None:
    with pytest.raises(InputError, match=r"larger than the limit of 100 kB \(it declares 1 GB\)"):
        fetch_url(
            f"http://images.test:{server.port}/declares-huge",
            loopback_policy(server, max_bytes=100_000),
            param="image",
        )


@pytest.mark.parametrize("path", ["/chunked-endless", "/unframed-endless"])
def test_body_over_the_cap_is_refused_mid_stream(server: LoopbackServer, path: str) -> None:
    with collector_paused():
        started = time.monotonic()
        with pytest.raises(InputError, match="larger than the limit of 100 kB"):
            fetch_url(
                f"http://images.test:{server.port}{path}",
                loopback_policy(server, max_bytes=100_000),
                param="image",
            )
        assert time.monotonic() - started < 2


def test_body_exactly_at_the_cap_is_accepted(server: LoopbackServer) -> None:
    fetched = fetch_url(
        f"http://images.test:{server.port}/image.png",
        loopback_policy(server, max_bytes=len(PAYLOAD)),
        param="image",
    )
    assert len(fetched.data) == len(PAYLOAD)


@pytest.mark.parametrize("path", ["/slow-headers", "/trickle"])
def test_slow_server_runs_out_the_total_deadline(server: LoopbackServer, path: str) -> None:
    with collector_paused():
        started = time.monotonic()
        with pytest.raises(InputError, match=r"did not finish within 0\.5 seconds"):
            fetch_url(
                f"http://images.test:{server.port}{path}",
                loopback_policy(server, timeout_seconds=0.5),
                param="image",
            )
        assert 0.4 < time.monotonic() - started < 1.5


def test_compressed_content_is_refused(server: LoopbackServer) -> None:
    with pytest.raises(InputError, match="'gzip'-encoded"):
        fetch_url(f"http://images.test:{server.port}/gzipped", loopback_policy(server), param="image")


def test_closed_port_is_reported() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        closed_port = placeholder.getsockname()[1]
    policy = FetchPolicy(allow_private=True, resolver=resolve_test_name, timeout_seconds=5.0)
    with pytest.raises(InputError, match="could not be reached"):
        fetch_url(f"http://images.test:{closed_port}/", policy, param="image")


# --- https: SNI and certificate checks use the host name while connecting by address --------------


@dataclass(frozen=True)
class CertificateFiles:
    authority: Path
    chain: Path
    key: Path


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    if which("openssl") is None:
        pytest.fail("the openssl command is needed to make test certificates (`make test` installs it)", pytrace=False)
    folder = tmp_path_factory.mktemp("tls")

    def openssl(*arguments: str) -> None:
        subprocess.run(["openssl", *arguments], cwd=folder, check=True, capture_output=True)

    elliptic = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl(
        "req",
        "-x509",
        *elliptic,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=reelserve test authority",
    )
    openssl("req", *elliptic, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=images.test")
    (folder / "leaf.ext").write_text(
        "subjectAltName=DNS:images.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    openssl(
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    )
    return CertificateFiles(folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key")


@pytest.fixture
def tls_server(certificates: CertificateFiles) -> Iterator[LoopbackServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.chain, certificates.key)
    yield from _serve(context)


def test_https_verifies_the_host_name_and_sends_it_as_sni(
    tls_server: LoopbackServer, certificates: CertificateFiles
) -> None:
    policy = loopback_policy(
        tls_server, ssl_context=ssl.create_default_context(cafile=str(certificates.authority))
    )
    fetched = fetch_url(f"https://images.test:{tls_server.port}/host", policy, param="image")
    assert fetched.data == f"images.test:{tls_server.port}".encode()
    assert tls_server.server_names == ["images.test"]


def test_https_refuses_a_certificate_for_another_name(
    tls_server: LoopbackServer, certificates: CertificateFiles
) -> None:
    policy = loopback_policy(
        tls_server, ssl_context=ssl.create_default_context(cafile=str(certificates.authority))
    )
    with pytest.raises(InputError, match=r"could not be reached.*certificate"):
        fetch_url(f"https://other.test:{tls_server.port}/host", policy, param="image")
    assert tls_server.requests == []
