"""Which IP addresses a server-side fetch may reach, and how numeric hosts are really read.

`non_public_reason` names why an address is not a public unicast destination (None when it is).
`parse_legacy_ipv4` reads a host the way inet_aton() does, since getaddrinfo() accepts
`2130706433`, `0177.1` and `0x7f.1` as 127.0.0.1.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address

_UNROUTABLE_V4: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", 'a "this network" address'),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a carrier-grade NAT (shared) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address (where cloud metadata services live)"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol assignment address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay anycast address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
    )
)

_UNROUTABLE_V6: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), reason)
    for net, reason in (
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
        ("5f00::/16", "a segment-routing (SRv6) address"),
        ("fc00::/7", "a unique-local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)

_IPV4_COMPATIBLE = IPv6Network("::/96")
_NAT64_WELL_KNOWN = IPv6Network("64:ff9b::/96")
_GLOBAL_UNICAST_V6 = IPv6Network("2000::/3")


def non_public_reason(address: IPAddress) -> str | None:
    """Why `address` is not a publicly routable unicast destination, or None if it is one."""
    if isinstance(address, IPv4Address):
        return _ipv4_reason(address)
    return _ipv6_reason(address)


def never_connectable_reason(address: IPAddress) -> str | None:
    """Addresses no fetch may reach even where private ones are allowed: they name no single host."""
    target = unwrap_ipv4_mapped(address)
    if target.is_unspecified:
        return "the unspecified address"
    if target.is_multicast:
        return "a multicast address"
    if target == IPv4Address("255.255.255.255"):
        return "the broadcast address"
    return None


def unwrap_ipv4_mapped(address: IPAddress) -> IPAddress:
    """::ffff:a.b.c.d is a.b.c.d on a dual-stack socket; judge and connect to it as such."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _ipv4_reason(address: IPv4Address) -> str | None:
    if address.is_unspecified:
        return "the unspecified address"
    if address == IPv4Address("255.255.255.255"):
        return "the broadcast address"
    for network, reason in _UNROUTABLE_V4:
        if address in network:
            return reason
    if not address.is_global:
        return "a reserved, non-public address"
    return None


def _ipv6_reason(address: IPv6Address) -> str | None:
    if address.scope_id:
        return "a scoped (zone-qualified) address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.ipv4_mapped is not None:
        return _embedding_reason("an IPv4-mapped address", address.ipv4_mapped, refuse_public=False)
    if address in _NAT64_WELL_KNOWN:
        embedded = IPv4Address(int(address) & 0xFFFFFFFF)
        return _embedding_reason("a NAT64 address", embedded, refuse_public=False)
    if address in _IPV4_COMPATIBLE:
        embedded = IPv4Address(int(address) & 0xFFFFFFFF)
        return _embedding_reason("a deprecated IPv4-compatible address", embedded, refuse_public=True)
    if address.sixtofour is not None:
        return _embedding_reason("a 6to4 tunnel address", address.sixtofour, refuse_public=True)
    if address.teredo is not None:
        return _embedding_reason("a Teredo tunnel address", address.teredo[1], refuse_public=True)
    for network, reason in _UNROUTABLE_V6:
        if address in network:
            return reason
    if address not in _GLOBAL_UNICAST_V6:
        return "an unallocated IPv6 address"
    if not address.is_global:
        return "a reserved, non-public address"
    return None


def _embedding_reason(kind: str, embedded: IPv4Address, *, refuse_public: bool) -> str | None:
    embedded_reason = _ipv4_reason(embedded)
    if embedded_reason is not None:
        return f"{kind} embedding {embedded}, {embedded_reason}"
    if refuse_public:
        return f"{kind} (embedding {embedded}), a tunnelling form this server does not fetch"
    return None


_LEGACY_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")
_DECIMAL_OR_HEX_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")


def looks_numeric(host: str) -> bool:
    """True when a URL parser (WHATWG: "ends in a number") would read `host` as an IPv4 address."""
    last_label = host.rsplit(".", 1)[-1]
    return bool(_DECIMAL_OR_HEX_LABEL.fullmatch(last_label))


def parse_legacy_ipv4(host: str) -> IPv4Address | None:
    """The address inet_aton() makes of `host` (1 to 4 parts, each decimal, 0-octal or 0x-hex), or None."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_LEGACY_IPV4_PART.fullmatch(part) for part in parts):
        return None
    numbers = [_legacy_number(part) for part in parts]
    # The last part fills every byte the earlier ones leave: a, a.b (8.24), a.b.c (8.8.16), a.b.c.d.
    last_bits = 8 * (5 - len(numbers))
    if any(n > 0xFF for n in numbers[:-1]) or numbers[-1] >= 1 << last_bits:
        return None
    value = 0
    for n in numbers[:-1]:
        value = (value << 8) | n
    return IPv4Address((value << last_bits) | numbers[-1])


def _legacy_number(part: str) -> int:
    """The part's value, or 2**32 for any value past 32 bits, found without converting thousands of digits."""
    if part[:2] in ("0x", "0X"):
        digits, base, most = part[2:].lstrip("0"), 16, 8
    elif len(part) > 1 and part.startswith("0"):
        digits, base, most = part.lstrip("0"), 8, 11
    else:
        digits, base, most = part, 10, 10
    if len(digits) > most:
        return 1 << 32
    return min(int(digits or "0", base), 1 << 32)
