"""Housekeeping that runs in the background of the API process: removing expired uploads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class PeriodicTasks:
    def __init__(self, interval_seconds: float, tasks: list[Callable[[], object]]) -> None:
        self.interval_seconds = interval_seconds
        self.tasks = tasks
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reelserve-maintenance", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def run_once(self) -> None:
        for task in self.tasks:
            try:
                task()
            except Exception:
                log.exception("maintenance task %s failed; it runs again next time", task)

    def _loop(self) -> None:
        self.run_once()
        while not self._stopping.wait(self.interval_seconds):
            self.run_once()
