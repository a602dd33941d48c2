"""What went wrong in a model runtime (diffusers or speech) running in a resident child, named once for both: an
out-of-memory (the GPU's or the host's), a CUDA error, or anything else; each runtime words its own message.

Imported by the runtimes only (it needs torch), not by the parent process."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reelserve.jobs.status import FailureKind

CUDA_MARKERS = ("CUDA", "cuDNN", "CUBLAS", "cublas", "NCCL", "device-side assert", "illegal memory access")
TEXT_LIMIT = 300


@dataclass(frozen=True)
class RuntimeFailure:
    kind: FailureKind
    text: str
    """The error's first line, at most TEXT_LIMIT characters; its type's name where it says nothing."""
    in_host_memory: bool = False
    """An out-of-memory of the host (MemoryError), not of the GPU."""


def runtime_failure(error: BaseException) -> RuntimeFailure:
    said = str(error).strip()
    text = (said.splitlines()[0] if said else type(error).__name__)[:TEXT_LIMIT]
    if isinstance(error, torch.OutOfMemoryError) or "out of memory" in text.lower():
        return RuntimeFailure(FailureKind.OOM, text)
    if isinstance(error, MemoryError):
        return RuntimeFailure(FailureKind.OOM, text, in_host_memory=True)
    if any(marker in text for marker in CUDA_MARKERS):
        return RuntimeFailure(FailureKind.CUDA_ERROR, text)
    return RuntimeFailure(FailureKind.OTHER, text)
