"""Engine failures by kind, read from the messages reelserve's own code writes when a job fails."""

from __future__ import annotations

import signal

import pytest
import torch

from reelserve.engines.diffusers.pipeline_runtime import describe_failure
from reelserve.observe.failures import failure_kind
from reelserve.resident.parent import exit_description
from reelserve.speech.backends.tts_runtime import TransformersSpeechRuntime

speech_failure = TransformersSpeechRuntime.describe_failure


def died(exitcode: int) -> str:
    """What resident/parent.py says of a model worker that died during a job."""
    return f"the diffusers-wan model worker {exit_description(exitcode)} during the job; it is being restarted"


@pytest.mark.parametrize(("status", "error", "kind"), [
    ("failed", describe_failure(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), None)[0],
     "oom"),
    ("failed", describe_failure(MemoryError("cannot allocate"), None)[0], "oom"),
    ("failed", died(-signal.SIGKILL), "oom"),
    ("failed", describe_failure(RuntimeError("CUDA error: an illegal memory access was encountered"), None)[0],
     "cuda_error"),
    ("failed", describe_failure(RuntimeError("cuDNN error: CUDNN_STATUS_INTERNAL_ERROR"), None)[0], "cuda_error"),
    ("failed", speech_failure(torch.OutOfMemoryError("CUDA out of memory"), None)[0], "oom"),
    ("failed", speech_failure(RuntimeError("CUBLAS_STATUS_EXECUTION_FAILED when calling cublasGemmEx"), None)[0],
     "cuda_error"),
    ("failed", died(1), "crash"),
    ("failed", died(-signal.SIGSEGV), "crash"),
    ("failed", "internal error while generating the video (KeyError: 'frames')", "crash"),
    ("failed", "the worker running this job stopped 3 times (server restart or crash); giving up", "crash"),
    ("failed", "generation took longer than the route's limit of 600 s", "timeout"),
    ("failed", "the v3 provider (kling) did not finish the job within 3 s", "timeout"),
    ("failed", "the v3 provider kept answering HTTP 429 (too many requests) until the job's time limit", "timeout"),
    ("timeout", "the job ran longer than its limit of 60 s and was stopped", "timeout"),
    ("failed", describe_failure(ValueError("height must be divisible by 16"), None)[0], "other"),
    ("failed", "the v3 provider failed the job: Task execution failed: out of capacity", "other"),
    ("failed", None, "other"),
])
def test_failure_kinds(status: str, error: str | None, kind: str) -> None:
    assert failure_kind(status, error) == kind
