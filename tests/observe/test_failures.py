"""Engine failures by kind, as the code that saw each failure names it; never read from the message, which may
quote a provider's words."""

from __future__ import annotations

import signal
from typing import Any

import pytest
import torch

from reelserve.engines.base import EngineError, EngineTimedOut
from reelserve.engines.diffusers.pipeline_runtime import describe_failure
from reelserve.jobs.status import FailureKind
from reelserve.resident.parent import exit_kind
from reelserve.speech.backends.tts_runtime import TransformersSpeechRuntime

speech_failure = TransformersSpeechRuntime.describe_failure


@pytest.mark.parametrize(("described", "kind"), [
    (describe_failure(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), None), FailureKind.OOM),
    (describe_failure(MemoryError("cannot allocate"), None), FailureKind.OOM),
    (describe_failure(RuntimeError("CUDA error: an illegal memory access was encountered"), None),
     FailureKind.CUDA_ERROR),
    (describe_failure(RuntimeError("cuDNN error: CUDNN_STATUS_INTERNAL_ERROR"), None), FailureKind.CUDA_ERROR),
    (describe_failure(ValueError("height must be divisible by 16"), None), FailureKind.OTHER),
    (speech_failure(torch.OutOfMemoryError("CUDA out of memory"), None), FailureKind.OOM),
    (speech_failure(MemoryError("cannot allocate"), None), FailureKind.OOM),
    (speech_failure(RuntimeError("CUBLAS_STATUS_EXECUTION_FAILED when calling cublasGemmEx"), None),
     FailureKind.CUDA_ERROR),
    (speech_failure(ValueError("no voice"), None), FailureKind.OTHER),
])
def test_a_model_runtime_names_the_kind_of_its_failure(described: tuple[str, FailureKind], kind: FailureKind) -> None:
    message, found = described
    assert message and found == kind
    assert found.replaces_worker == (kind in (FailureKind.OOM, FailureKind.CUDA_ERROR))


@pytest.mark.parametrize(("exitcode", "kind"), [
    (-signal.SIGKILL, FailureKind.OOM),
    (-signal.SIGSEGV, FailureKind.CRASH),
    (1, FailureKind.CRASH),
    (None, FailureKind.CRASH),
])
def test_a_model_worker_that_died(exitcode: int | None, kind: FailureKind) -> None:
    assert exit_kind(exitcode) == kind


def test_an_engine_failure_is_other_whatever_its_message_quotes() -> None:
    quoting = EngineError("the v3 provider failed the job: CUDA out of memory (took longer than 600 s)")
    assert quoting.kind == FailureKind.OTHER
    assert EngineTimedOut("the v3 provider did not finish the job within 3 s").kind == FailureKind.TIMEOUT
    assert EngineError("a CUDA error stopped the generation", kind=FailureKind.CUDA_ERROR).kind == (
        FailureKind.CUDA_ERROR
    )


@pytest.mark.parametrize("describe", [describe_failure, speech_failure])
def test_each_runtime_words_the_memory_it_ran_out_of(describe: Any) -> None:
    gpu, gpu_kind = describe(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), None)
    host, host_kind = describe(MemoryError("cannot allocate"), None)
    nccl, nccl_kind = describe(RuntimeError("NCCL error in: all_reduce"), None)
    assert "GPU ran out of memory" in gpu and gpu.endswith("[CUDA out of memory. Tried to allocate 2.00 GiB]")
    assert "ran out of host memory: cannot allocate" in host
    assert "a CUDA error stopped" in nccl
    assert (gpu_kind, host_kind, nccl_kind) == (FailureKind.OOM, FailureKind.OOM, FailureKind.CUDA_ERROR)
    long, _ = describe(ValueError("x" * 1000 + "\nsecond line"), None)
    assert "x" * 300 in long and "x" * 301 not in long and "second line" not in long
