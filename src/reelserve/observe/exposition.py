"""What a scrape reads, and the metrics port.

`Exposition` gathers, for one scrape, this process's metrics (or, in multi-process mode, every process's files in
PROMETHEUS_MULTIPROC_DIR) and the collectors read at scrape time (the queues, the GPUs), in the text format a
scraper asks for. `serve_metrics` answers it on a port of its own: the API's REELSERVE_METRICS_PORT, and any worker
process (`reelserve worker`) on another machine, which calls it to be scraped.

Multi-process mode keeps, per process, a file per kind of metric named after its pid. Counters and histograms of
processes that ended stay (their counts still happened); the live gauges of a process that ended are removed when
it stops (`forget_this_process`) and, for one killed outright, by the next process to start
(`forget_dead_processes`). Empty the directory before the first process of a deployment starts.
"""

from __future__ import annotations

import contextlib
import glob
import hmac
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from reelserve.observe import metrics

log = logging.getLogger(__name__)

_PROCESS_FILE = re.compile(r"_(\d+)\.db$")


class _ProcessMetrics(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


class Exposition:
    def __init__(self, collectors: Iterable[Collector] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        directory = metrics.multiprocess_dir()
        if directory is not None:
            multiprocess.MultiProcessCollector(self.registry, path=directory)
        else:
            self.registry.register(_ProcessMetrics(metrics.REGISTRY))
        for collector in collectors:
            self.registry.register(collector)

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The scrape's body and its content type (Prometheus' text format, or OpenMetrics where asked for)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


def token_matches(authorization: str | None, token: str) -> bool:
    """Whether an Authorization header carries `Bearer <token>` (compared in constant time)."""
    if not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class MetricsServer:
    """Serves an Exposition over HTTP at any path, in a thread; with a token, only to `Bearer <token>`."""

    def __init__(self, exposition: Exposition, port: int, host: str = "127.0.0.1", token: str | None = None) -> None:
        served = make_wsgi_app(exposition.registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            if token is not None and not token_matches(environ.get("HTTP_AUTHORIZATION"), token):
                start_response("401 Unauthorized", [("Content-Type", "text/plain"),
                                                    ("WWW-Authenticate", 'Bearer realm="metrics"')])
                return [b"a bearer token is needed\n"]
            return served(environ, start_response)  # type: ignore[no-any-return]

        self._server = make_server(host, port, app, _Server, handler_class=_QuietHandler)
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="reelserve-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


def serve_metrics(
    port: int, host: str = "127.0.0.1", token: str | None = None, collectors: Sequence[Collector] = (),
) -> MetricsServer:
    """Serves this process's metrics (every process's, in multi-process mode) on host:port, in a background
    thread, until `stop()`. For worker processes on other machines: `reelserve worker` calls it with its port
    (bound to 127.0.0.1 unless the network is private) and, where the port is reachable by others, a token.
    `collectors` are read at each scrape (a GpuMemoryCollector, say); the queue figures belong to the API's."""
    return MetricsServer(Exposition(collectors), port, host, token)


def forget_this_process() -> None:
    """In multi-process mode, removes this process's live gauges (call as the process stops)."""
    directory = metrics.multiprocess_dir()
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), directory)


def forget_dead_processes() -> list[int]:
    """In multi-process mode, removes the live gauges of processes that no longer run (killed outright, so they
    never forgot themselves); returns their pids."""
    directory = metrics.multiprocess_dir()
    if directory is None:
        return []
    dead = []
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        found = _PROCESS_FILE.search(path)
        if found is None:
            continue
        pid = int(found.group(1))
        if pid != os.getpid() and not _alive(pid):
            with contextlib.suppress(FileNotFoundError):
                multiprocess.mark_process_dead(pid, directory)
            dead.append(pid)
    return sorted(set(dead))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
