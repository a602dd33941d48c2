"""The worker process: loads the pipeline once, then runs jobs sent by the engine until told to stop.

Started with the multiprocessing "spawn" context, so it never inherits CUDA state from the server.
Nothing heavy is imported at module level: the process sets the offline environment first.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

from .messages import Job, JobFailed, JobStopped, LoadFailed, Progress, Ready, Shutdown
from .options import BindingOptions

# Exit status of a worker that stopped itself after a failure that leaves CUDA unusable.
EXIT_AFTER_FATAL_ERROR = 3

_OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "DIFFUSERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def worker_main(connection: Connection, stop_event: Event, options: BindingOptions) -> None:
    os.environ.update(_OFFLINE_ENVIRONMENT)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s diffusers-worker %(levelname)s %(message)s"
    )
    from .pipeline_runtime import PipelineRuntime, StopRequested, describe_failure

    try:
        runtime = PipelineRuntime(options)
        load_seconds = runtime.load()
    except BaseException as error:
        traceback.print_exc()
        message, _ = describe_failure(error, None)
        connection.send(
            LoadFailed(
                f"could not load the {options.family} pipeline from {options.weights}: "
                + message.removeprefix("generation failed: ")
            )
        )
        return
    connection.send(Ready(device=str(runtime.device), dtype=str(runtime.dtype), load_seconds=load_seconds))

    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if isinstance(message, Shutdown):
            return
        assert isinstance(message, Job)
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
            description, fatal = describe_failure(error, job.plan)
            connection.send(JobFailed(job.job_id, description, fatal))
            if fatal:
                connection.close()
                os._exit(EXIT_AFTER_FATAL_ERROR)
            continue
        connection.send(result)
