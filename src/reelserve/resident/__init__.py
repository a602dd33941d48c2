"""A model kept resident in a child process: loaded once, fed jobs over a pipe, replaced when it fails.

Used by the diffusers engine and the transformers speech backends. The child is started with the
multiprocessing "spawn" context (no CUDA state inherited), sets the offline environment before it imports
anything heavy, and runs a runtime class named by its import path. A crash, an out-of-memory or a CUDA
error there fails the job at hand; the parent starts a fresh child and the server carries on.
"""

from .child import EXIT_AFTER_FATAL_ERROR, StopRequested
from .messages import JobFailed, JobStopped, LoadFailed, Progress, Ready, Shutdown
from .parent import ResidentWorker, WorkerFailed, WorkerStopped

__all__ = [
    "EXIT_AFTER_FATAL_ERROR",
    "JobFailed",
    "JobStopped",
    "LoadFailed",
    "Progress",
    "Ready",
    "ResidentWorker",
    "Shutdown",
    "StopRequested",
    "WorkerFailed",
    "WorkerStopped",
]
