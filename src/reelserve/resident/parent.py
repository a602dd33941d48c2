"""The parent's side: starting the resident child, waiting for it to load, running jobs on it, and
replacing it when it dies or fails fatally."""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import signal
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from reelserve.jobs.status import FailureKind

from .child import EXIT_AFTER_FATAL_ERROR, child_main
from .messages import JobFailed, JobStopped, LoadFailed, Progress, Ready, Shutdown

log = logging.getLogger("reelserve.resident")

_POLL_SECONDS = 0.05
# How long a job that was asked to stop may take to reach its next step.
_STOP_GRACE_SECONDS = 300.0


class WorkerFailed(Exception):
    """The job failed (the message says why), or the child could not load, died or ran out of time."""

    def __init__(self, message: str, kind: FailureKind = FailureKind.OTHER) -> None:
        super().__init__(message)
        self.kind = kind


class WorkerStopped(Exception):
    """The job stopped because the caller asked it to."""


@dataclass
class _Child:
    process: Any  # multiprocessing.Process from the spawn context
    connection: Connection
    stop_event: Any
    ready: Ready | None = None

    def poll(self) -> bool:
        """Whether a message (or the end of the pipe) is waiting; a closed pipe counts as the end."""
        try:
            return self.connection.poll(_POLL_SECONDS)
        except (OSError, ValueError):
            return True

    def receive(self) -> object | None:
        """The next message, or None when the child is gone."""
        try:
            return self.connection.recv()
        except (EOFError, OSError, ValueError):
            return None


def exit_description(exitcode: int | None) -> str:
    if exitcode is None:
        return "stopped responding"
    if exitcode == EXIT_AFTER_FATAL_ERROR:
        return "stopped after a fatal error"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (often the system's out-of-memory killer)" if exitcode == -signal.SIGKILL else ""
        return f"was killed by {name}{hint}"
    return f"exited with status {exitcode}"


def exit_kind(exitcode: int | None) -> FailureKind:
    """A child that died: killed by SIGKILL, most often by the kernel's out-of-memory killer; else a crash."""
    return FailureKind.OOM if exitcode == -signal.SIGKILL else FailureKind.CRASH


class ResidentWorker:
    """One child process running `runtime` (an import path, see child.py) with `options`; one job at a time."""

    def __init__(
        self,
        label: str,
        runtime: str,
        options: Any,
        *,
        load_timeout_seconds: float | None = None,
        job_timeout_seconds: float | None = None,
        steps: str = "steps",
    ) -> None:
        self.label = label
        self.steps = steps
        self.runtime = runtime
        self.options = options
        self.load_timeout_seconds = load_timeout_seconds
        self.job_timeout_seconds = job_timeout_seconds
        self._context = multiprocessing.get_context("spawn")
        self._job_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._child: _Child | None = None
        self._started = False
        self._closed = False
        atexit.register(_close_at_exit, weakref.ref(self))

    def start(self) -> None:
        """Start the child, which loads while the caller carries on; jobs wait for it as needed."""
        with self._state_lock:
            if self._started and not self._closed:
                return
            self._started, self._closed = True, False
            self._child = self._spawn()

    @property
    def started(self) -> bool:
        return self._started and not self._closed

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.process.pid if child is not None and child.process.is_alive() else None

    def wait_until_ready(self, timeout: float | None = None) -> None:
        with self._job_lock:
            self._ready_child(lambda: False, timeout)

    def run(self, job: Any, on_progress: Callable[[Progress], None], should_stop: Callable[[], bool]) -> Any:
        """Send `job` and return the child's result; WorkerFailed or WorkerStopped otherwise."""
        with self._job_lock:
            child = self._ready_child(should_stop, self.load_timeout_seconds)
            child.stop_event.clear()
            try:
                child.connection.send(job)
            except OSError:
                self._fail_dead_child(child)
            return self._await(child, job.job_id, on_progress, should_stop)

    def close(self) -> None:
        with self._state_lock:
            self._closed = True
            child, self._child = self._child, None
            if child is not None:
                self._stop_child(child, graceful=True)

    # Children --------------------------------------------------------------------------------------

    def _spawn(self) -> _Child:
        parent_end, child_end = self._context.Pipe(duplex=True)
        stop_event = self._context.Event()
        process = self._context.Process(
            target=child_main,
            args=(child_end, stop_event, self.runtime, self.options, self.label),
            name=f"reelserve-{self.label}",
            daemon=False,
        )
        process.start()
        child_end.close()
        log.info("started %s worker pid %s", self.label, process.pid)
        return _Child(process=process, connection=parent_end, stop_event=stop_event)

    def _stop_child(self, child: _Child, graceful: bool) -> None:
        if graceful and child.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                child.connection.send(Shutdown())
            child.process.join(timeout=10)
        if child.process.is_alive():
            child.process.terminate()
            child.process.join(timeout=10)
        if child.process.is_alive():
            child.process.kill()
            child.process.join()
        child.connection.close()

    def _replace(self, child: _Child) -> None:
        """Retire a failed child and start its replacement, which loads while the server carries on."""
        with self._state_lock:
            self._stop_child(child, graceful=False)
            if self._child is child:
                self._child = None if self._closed else self._spawn()

    def _ready_child(self, should_stop: Callable[[], bool], timeout: float | None) -> _Child:
        with self._state_lock:
            if self._closed or not self._started:
                raise WorkerFailed(f"the {self.label} worker is not started", FailureKind.OTHER)
            idle = self._child
            if idle is not None and idle.ready is not None and not idle.process.is_alive():
                log.warning("the %s worker %s while idle; starting a new one", self.label,
                            exit_description(idle.process.exitcode))
                self._stop_child(idle, graceful=False)
                self._child = None
            if self._child is None:
                self._child = self._spawn()
            child = self._child
        if child.ready is not None:
            return child
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if child.poll():
                message = child.receive()
                if isinstance(message, Ready):
                    child.ready = message
                    log.info("%s worker ready on %s (%s) after %.1f s", self.label, message.device, message.dtype,
                             message.load_seconds)
                    return child
                self._retire_after_load_failure(child)
                if isinstance(message, LoadFailed):
                    raise WorkerFailed(message.message, message.kind)
                exitcode = child.process.exitcode
                raise WorkerFailed(
                    f"the {self.label} worker {exit_description(exitcode)} while loading", exit_kind(exitcode)
                )
            if should_stop():
                raise WorkerStopped("stopped while the model was loading")
            if deadline is not None and time.monotonic() > deadline:
                self._retire_after_load_failure(child)
                raise WorkerFailed(f"the {self.label} model did not load within {timeout:.0f} s", FailureKind.TIMEOUT)

    def _retire_after_load_failure(self, child: _Child) -> None:
        # The next job starts a new child and tries loading again (the weights may have been fixed).
        with self._state_lock:
            self._stop_child(child, graceful=False)
            if self._child is child:
                self._child = None

    def _await(
        self, child: _Child, job_id: str, on_progress: Callable[[Progress], None], should_stop: Callable[[], bool]
    ) -> Any:
        stop_deadline: float | None = None
        timeout = self.job_timeout_seconds
        job_deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if child.poll():
                message = child.receive()
                if isinstance(message, Progress):
                    on_progress(message)
                elif isinstance(message, JobStopped):
                    raise WorkerStopped(f"stopped between {self.steps}")
                elif isinstance(message, JobFailed):
                    if message.kind.replaces_worker:
                        self._replace(child)
                    raise WorkerFailed(message.message, message.kind)
                elif message is not None and getattr(message, "job_id", None) == job_id:
                    return message
                else:
                    self._fail_dead_child(child)
            elif not child.process.is_alive():
                self._fail_dead_child(child)
            now = time.monotonic()
            if stop_deadline is None and should_stop():
                child.stop_event.set()
                stop_deadline = now + _STOP_GRACE_SECONDS
            elif stop_deadline is not None and now > stop_deadline:
                self._replace(child)
                raise WorkerStopped("stopped (the worker did not reach the end of its step in time)")
            if job_deadline is not None and now > job_deadline:
                self._replace(child)
                raise WorkerFailed(f"the job took longer than the limit of {timeout:.0f} s", FailureKind.TIMEOUT)

    def _fail_dead_child(self, child: _Child) -> None:
        child.process.join(timeout=5)
        exitcode = child.process.exitcode
        self._replace(child)
        raise WorkerFailed(
            f"the {self.label} model worker {exit_description(exitcode)} during the job; it is being restarted",
            exit_kind(exitcode),
        )


def _close_at_exit(worker_ref: weakref.ref[ResidentWorker]) -> None:
    worker = worker_ref()
    if worker is not None:
        worker.close()
