"""The child process: loads its runtime once, then runs the jobs the parent sends until told to stop.

The runtime is a class named "package.module:Class", imported here after the offline environment is set.
It is built with the parent's options and has: `load() -> float` (seconds), `device` and `dtype`,
`run(job, on_step, stop_requested)` returning the result to send back (raising StopRequested when
`stop_requested()` says so), and the class methods `load_failure(options, error) -> (message, FailureKind)` and
`describe_failure(error, job) -> (message, FailureKind)`.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any

from reelserve.jobs.status import FailureKind

from .messages import JobFailed, JobStopped, LoadFailed, Progress, Ready, Shutdown

# Exit status of a child that stopped itself after a failure that leaves CUDA unusable.
EXIT_AFTER_FATAL_ERROR = 3

OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "DIFFUSERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


class StopRequested(Exception):
    """Raised inside a job when the parent asked it to stop."""


def runtime_class(path: str) -> Any:
    module_name, _, class_name = path.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def child_main(connection: Connection, stop_event: Event, runtime_path: str, options: Any, label: str) -> None:
    os.environ.update(OFFLINE_ENVIRONMENT)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=f"%(asctime)s {label} %(levelname)s %(message)s")
    try:
        runtime_type = runtime_class(runtime_path)
        runtime = runtime_type(options)
        load_seconds = runtime.load()
    except BaseException as error:
        traceback.print_exc()
        try:
            message, kind = runtime_type.load_failure(options, error)
        except Exception:
            message, kind = f"could not load the model: {type(error).__name__}: {error}", FailureKind.OTHER
        connection.send(LoadFailed(message, kind))
        return
    connection.send(Ready(device=str(runtime.device), dtype=str(runtime.dtype), load_seconds=load_seconds))

    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if isinstance(message, Shutdown):
            return
        job = message
        try:
            result = runtime.run(
                job,
                on_step=lambda steps_done, job_id=job.job_id: connection.send(Progress(job_id, steps_done)),
                stop_requested=stop_event.is_set,
            )
        except StopRequested:
            connection.send(JobStopped(job.job_id))
            continue
        except Exception as error:
            traceback.print_exc()
            description, kind = runtime_type.describe_failure(error, job)
            connection.send(JobFailed(job.job_id, description, kind))
            if kind.replaces_worker:
                connection.close()
                os._exit(EXIT_AFTER_FATAL_ERROR)
            continue
        connection.send(result)
