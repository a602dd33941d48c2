"""Deciding, before any connection, whether a user-supplied URL may be fetched and where to connect.

`check_url` parses the URL strictly, resolves its host once and judges every address; the
`ResolvedTarget` it returns is the only place a fetch may connect to.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address
from urllib.parse import quote

from reelserve.errors import InputError
from reelserve.net.addresses import (
    IPAddress,
    looks_numeric,
    never_connectable_reason,
    non_public_reason,
    parse_legacy_ipv4,
    unwrap_ipv4_mapped,
)
from reelserve.net.pinned_network import Deadline

Resolver = Callable[[str, int], list[str]]

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 8192
# Control characters could split the request line or headers; a backslash is read as '/' by some
# URL parsers and not by others. Spaces are tolerated (and percent-encoded) in the path only.
_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\\]")
_HOST_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
# Characters left as they are when percent-encoding a path or query: RFC 3986 reserved,
# unreserved and '%' itself (already-encoded octets stay encoded).
_URL_SAFE = "/?:@!$&'()*+,;=-._~%"


@dataclass(frozen=True)
class FetchPolicy:
    """Where server-side fetches may go and how much they may take."""

    allow_private: bool = False
    allowed_networks: tuple[IPv4Network | IPv6Network, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = (80, 443)
    max_bytes: int = 20_000_000
    timeout_seconds: float = 20.0
    max_redirects: int = 3
    resolver: Resolver | None = None
    ssl_context: ssl.SSLContext | None = None  # None: the system's CA bundle via certifi


@dataclass(frozen=True)
class ResolvedTarget:
    """A URL that passed every check, with the only addresses a connection for it may use."""

    url: str
    scheme: str
    host: str
    port: int
    target: str
    addresses: tuple[IPAddress, ...]

    @property
    def host_header(self) -> str:
        return _host_and_port(self.scheme, self.host, self.port)


@dataclass(frozen=True)
class _ParsedURL:
    scheme: str
    host: str
    port: int
    target: str
    literal_address: IPAddress | None
    non_canonical_spelling: bool


def check_url(
    url: str, policy: FetchPolicy, *, param: str, deadline: Deadline | None = None
) -> ResolvedTarget:
    """Parse, resolve and judge `url`; raise InputError(param=param) if it may not be fetched."""
    subject = f"{param} URL"
    deadline = deadline or Deadline.after(policy.timeout_seconds)
    parsed = _parse_url(url, subject, param)
    if not policy.allow_private and parsed.port not in policy.allowed_ports:
        allowed = ", ".join(str(port) for port in policy.allowed_ports)
        raise InputError(
            f"{subject} uses port {parsed.port}; this server fetches only from ports {allowed}", param
        )

    if parsed.literal_address is not None:
        addresses: tuple[IPAddress, ...] = (parsed.literal_address,)
        where = f"{subject} points to"
        if parsed.non_canonical_spelling:
            where = f"{subject} host {parsed.host!r} is another spelling of"
    else:
        addresses = _resolve(parsed.host, parsed.port, policy, deadline, subject, param)
        where = f"{subject} host {parsed.host!r} resolves to"
    for address in addresses:
        reason = _refusal_reason(address, parsed.host, policy)
        if reason is not None:
            raise InputError(f"{where} {address}, {reason}, which this server does not fetch", param)
    if parsed.non_canonical_spelling:
        raise InputError(
            f"{subject} host {parsed.host!r} is a non-standard spelling of the IP address "
            f"{parsed.literal_address}; write it as {parsed.literal_address}",
            param,
        )
    return ResolvedTarget(
        url=f"{parsed.scheme}://{_host_and_port(parsed.scheme, parsed.host, parsed.port)}{parsed.target}",
        scheme=parsed.scheme,
        host=parsed.host,
        port=parsed.port,
        target=parsed.target,
        addresses=addresses,
    )


def resolve_with_getaddrinfo(host: str, port: int) -> list[str]:
    """The system resolver's TCP addresses for host:port, in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def _host_and_port(scheme: str, host: str, port: int) -> str:
    bracketed = f"[{host}]" if ":" in host else host
    return bracketed if port == DEFAULT_PORTS[scheme] else f"{bracketed}:{port}"


def _refusal_reason(address: IPAddress, host: str, policy: FetchPolicy) -> str | None:
    reason = never_connectable_reason(address)
    if reason is not None or policy.allow_private:
        return reason
    if host in {_ascii_host_name(allowed) for allowed in policy.allowed_hosts}:
        return None
    if any(unwrap_ipv4_mapped(address) in network for network in policy.allowed_networks):
        return None
    return non_public_reason(address)


def _ascii_host_name(name: str) -> str:
    name = name.lower().removesuffix(".")
    return name if name.isascii() else name.encode("idna").decode("ascii")


# getaddrinfo() has no timeout of its own; a worker thread lets the caller stop waiting at the deadline.
_RESOLVER_THREADS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="reelserve-resolve")


def _resolve(
    host: str, port: int, policy: FetchPolicy, deadline: Deadline, subject: str, param: str
) -> tuple[IPAddress, ...]:
    resolver = policy.resolver or resolve_with_getaddrinfo
    pending = _RESOLVER_THREADS.submit(resolver, host, port)
    try:
        answers = pending.result(timeout=deadline.remaining())
    except FutureTimeout:
        pending.cancel()
        raise InputError(f"{subject} host {host!r} took too long to resolve", param) from None
    except (OSError, UnicodeError) as error:
        raise InputError(f"{subject} host {host!r} could not be resolved", param) from error
    addresses = tuple(dict.fromkeys(ip_address(answer) for answer in answers))
    if not addresses:
        raise InputError(f"{subject} host {host!r} could not be resolved", param)
    return addresses


def _parse_url(url: str, subject: str, param: str) -> _ParsedURL:
    def refuse(problem: str) -> InputError:
        return InputError(f"{subject} {problem}", param)

    url = url.strip()
    if not url:
        raise refuse("is empty")
    if len(url) > MAX_URL_LENGTH:
        raise refuse(f"is longer than {MAX_URL_LENGTH} characters")
    unsafe = _UNSAFE_CHARACTERS.search(url)
    if unsafe:
        found = "a backslash" if unsafe.group() == "\\" else f"the control character {unsafe.group()!r}"
        raise refuse(f"contains {found}")
    scheme, colon, rest = url.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in DEFAULT_PORTS:
        shown = f"{scheme!r}" if colon else "none"
        raise refuse(f"must use http or https (scheme: {shown})")
    if not rest.startswith("//"):
        raise refuse("must be an absolute URL such as https://example.com/image.jpg")
    authority, target = _split_authority_and_target(rest[2:])
    if "@" in authority:
        raise refuse("must not contain a user name or password")
    if " " in authority:
        raise refuse("has a space in its host")
    host_text, port = _split_host_and_port(authority, DEFAULT_PORTS[scheme], refuse)
    host, literal_address, non_canonical = _normalise_host(host_text, refuse)
    return _ParsedURL(scheme, host, port, target, literal_address, non_canonical)


def _split_authority_and_target(after_slashes: str) -> tuple[str, str]:
    end = len(after_slashes)
    for delimiter in "/?#":
        position = after_slashes.find(delimiter)
        if position != -1:
            end = min(end, position)
    authority, rest = after_slashes[:end], after_slashes[end:]
    rest = rest.split("#", 1)[0]
    path, question, query = rest.partition("?")
    target = quote(path or "/", safe=_URL_SAFE)
    if question:
        target += "?" + quote(query, safe=_URL_SAFE)
    return authority, target


def _split_host_and_port(
    authority: str, default_port: int, refuse: Callable[[str], InputError]
) -> tuple[str, int]:
    if authority.startswith("["):
        closing = authority.find("]")
        if closing == -1:
            raise refuse("has an unclosed '[' in its host")
        host, after = authority[: closing + 1], authority[closing + 1 :]
        if after and not after.startswith(":"):
            raise refuse("has text after its IPv6 address")
        port_text = after[1:] if after else ""
    else:
        host, _, port_text = authority.partition(":")
    if not port_text:
        return host, default_port
    if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        raise refuse(f"has an invalid port {port_text!r}")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise refuse(f"has an invalid port {port}")
    return host, port


def _normalise_host(host: str, refuse: Callable[[str], InputError]) -> tuple[str, IPAddress | None, bool]:
    """(ASCII host, its address if it is an IP literal, whether that literal is spelled oddly)."""
    if not host:
        raise refuse("has no host")
    if host.startswith("["):
        inside = host[1:-1]
        if "%" in inside:
            raise refuse("has an IPv6 zone identifier, which this server does not accept")
        try:
            address = IPv6Address(inside)
        except ValueError:
            raise refuse(f"has an invalid IPv6 address {inside!r}") from None
        return str(address), address, False
    if "%" in host:
        raise refuse("has a percent-encoded host, which this server does not accept")
    try:
        host = _ascii_host_name(host)
    except UnicodeError:
        raise refuse(f"has an invalid internationalised host name {host!r}") from None
    if looks_numeric(host):
        ipv4 = parse_legacy_ipv4(host)
        if ipv4 is None:
            raise refuse(f"host {host!r} is neither a domain name nor a valid IPv4 address")
        return host, ipv4, host != str(ipv4)
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise refuse(f"has an invalid host name {host!r}")
    return host, None, False
