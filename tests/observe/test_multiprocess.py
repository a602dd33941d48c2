"""Multi-process mode: two `reelserve serve` processes on one host share PROMETHEUS_MULTIPROC_DIR (and a data
directory); either one's /metrics adds up both processes' counts. A process that stops takes its live gauges
(its worker's) with it, while what it counted stays counted."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from tests.observe.scrape import changes, labels, scrape
from tests.support.process import ServerProcess, free_port

TOKEN = "multi-process-token-0123456789"


def test_any_process_answers_for_all(tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared), "REELSERVE_METRICS_TOKEN": TOKEN}
    data_dir = tmp_path / "data"
    first = ServerProcess(data_dir, free_port(), env=env, workers=1)
    second = None
    try:
        second = ServerProcess(data_dir, free_port(), env=env, workers=1)
        client = httpx.Client(timeout=30)
        before = scrape(client, TOKEN, first.base_url + "/metrics")
        for server, count in ((first, 3), (second, 5)):
            for _ in range(count):
                assert client.get(server.base_url + "/nothing/here").status_code == 404
        from_first = scrape(client, TOKEN, first.base_url + "/metrics")
        from_second = scrape(client, TOKEN, second.base_url + "/metrics")
        for after in (from_first, from_second):
            assert changes(after, before, "reelserve_http_requests_total")[
                labels(route="unmatched", method="GET", status="404")] == 8
        workers = {dict(key)["worker"] for (name, key) in from_first if name == "reelserve_worker_jobs_running"}
        assert len(workers) == 2 and all(str(os.uname().nodename) in worker for worker in workers), workers
        assert {file.name.split("_")[0] for file in shared.iterdir()} >= {"counter", "histogram", "gauge"}

        second.stop()
        gone = second.process.pid
        second = None
        after_stop = scrape(client, TOKEN, first.base_url + "/metrics")
        assert changes(after_stop, before, "reelserve_http_requests_total")[
            labels(route="unmatched", method="GET", status="404")] == 8, "what the stopped process counted stays"
        left = {dict(key)["worker"] for (name, key) in after_stop if name == "reelserve_worker_jobs_running"}
        assert len(left) == 1 and left < workers, "the stopped process's worker is gone"
        assert not list(shared.glob(f"gauge_live*_{gone}.db"))
    finally:
        if second is not None:
            second.stop()
        first.stop()
    assert not list(shared.glob(f"gauge_live*_{first.process.pid}.db")), "each process forgets itself as it stops"
