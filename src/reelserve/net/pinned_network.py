"""An httpcore network backend that reaches only addresses already checked, within one deadline.

The URL keeps its hostname (so the Host header, TLS SNI and certificate checks use it), while
the backend connects to the IP addresses resolved and judged before the request: nothing is
resolved a second time, so DNS rebinding between check and connect has nothing to act on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ssl import SSLContext
from typing import Any

import httpcore

from reelserve.net.addresses import IPAddress, unwrap_ipv4_mapped


@dataclass(frozen=True)
class Deadline:
    """One point in time (time.monotonic) by which a whole fetch must be done."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def clamp(self, timeout: float | None, timeout_error: type[Exception]) -> float:
        """The smaller of `timeout` and the time left; raises `timeout_error` when none is left."""
        left = self.remaining()
        if left <= 0:
            raise timeout_error("the fetch deadline has passed")
        return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every read, write and TLS handshake ends by the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        handshake_timeout = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, handshake_timeout), self._deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class PinnedBackend(httpcore.NetworkBackend):
    """Connects `host:port` to the given checked addresses only, tried in order; refuses anything else."""

    def __init__(self, host: str, port: int, addresses: Sequence[IPAddress], deadline: Deadline) -> None:
        self._host = host
        self._port = port
        self._addresses = [unwrap_ipv4_mapped(address) for address in addresses]
        self._deadline = deadline
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if (host, port) != (self._host, self._port):
            raise httpcore.ConnectError(f"{host}:{port} was not checked before connecting")
        failure: httpcore.ConnectError | None = None
        for address in self._addresses:
            try:
                stream = self._sockets.connect_tcp(
                    str(address),
                    port,
                    timeout=self._deadline.clamp(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as error:
                failure = error
                continue
            return DeadlineStream(stream, self._deadline)
        raise failure or httpcore.ConnectError(f"no checked address for {host}")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("fetches never use Unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
