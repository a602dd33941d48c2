"""One server's operations side, assembled from its settings: what /metrics reads (and whether it is exposed), the
metrics port, readiness, the access log's policy and tracing; started and stopped with the server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from prometheus_client.registry import Collector

from reelserve.config import Settings
from reelserve.observe import exposition, tracing
from reelserve.observe.collectors import GpuMemoryCollector
from reelserve.observe.exposition import Exposition, MetricsServer
from reelserve.observe.logs import AccessLog
from reelserve.observe.metrics import HttpRecorder
from reelserve.observe.readiness import Readiness

log = logging.getLogger(__name__)


class Observability:
    def __init__(
        self, settings: Settings, readiness: Readiness | None = None, collectors: Sequence[Collector] = ()
    ) -> None:
        self.settings = settings
        self.readiness = readiness
        """None in a process that serves no API (`reelserve worker`)."""
        self.gpu = GpuMemoryCollector()
        self.exposition = Exposition([*collectors, self.gpu])
        self.access_log = AccessLog.parse(settings.access_log)
        self.metrics_token = settings.metrics_token
        self.metrics_enabled = bool(settings.metrics_token or settings.metrics_port)
        """Whether anyone can read the metrics: HTTP requests are counted only then."""
        self.http = HttpRecorder()
        self._server: MetricsServer | None = None
        self._traces = False
        if settings.otlp_endpoint:
            tracing.check_available()

    def start(self) -> None:
        forgotten = exposition.forget_dead_processes()
        if forgotten:
            log.info("removed the live gauges of ended processes %s from PROMETHEUS_MULTIPROC_DIR", forgotten)
        if self.settings.otlp_endpoint:
            tracing.configure(self.settings.otlp_endpoint)
            self._traces = True
        if not self.metrics_enabled:
            return
        threading.Thread(target=self.gpu.prepare, name="reelserve-gpu-metrics", daemon=True).start()
        port = self.settings.metrics_port
        if port is not None:
            try:
                self._server = MetricsServer(self.exposition, port, self.settings.metrics_host, self.metrics_token)
            except OSError as exc:
                # In multi-process mode the process that holds the port answers for every process.
                log.warning("metrics port %s:%s not served by this process: %s", self.settings.metrics_host, port, exc)
            else:
                log.info("metrics served on http://%s:%s/metrics", self.settings.metrics_host, self._server.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.readiness is not None:
            self.readiness.close()
        if self._traces:
            tracing.uninstall()
            self._traces = False
        exposition.forget_this_process()

    @property
    def metrics_port(self) -> int | None:
        return self._server.port if self._server is not None else None
