"""Housekeeping that runs in the background of every process that serves: each task on its own interval, in one
thread. A task that fails is logged and runs again at its next turn."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    name: str
    every_seconds: float
    run: Callable[[], object]


class PeriodicTasks:
    def __init__(self, tasks: list[Task]) -> None:
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
            self._run(task)

    def _run(self, task: Task) -> None:
        try:
            task.run()
        except Exception:
            log.exception("maintenance task %s failed; it runs again next time", task.name)

    def _loop(self) -> None:
        due = dict.fromkeys(range(len(self.tasks)), 0.0)
        while not self._stopping.is_set():
            now = time.monotonic()
            for index, task in enumerate(self.tasks):
                if due[index] <= now:
                    self._run(task)
                    due[index] = time.monotonic() + task.every_seconds
            self._stopping.wait(max(0.05, min(due.values()) - time.monotonic()))
