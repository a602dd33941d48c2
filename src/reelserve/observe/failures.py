"""Why a job failed, in one word for a metric's label, read from the message its engine or worker gave.

The messages are the ones reelserve's own code writes: the diffusers and speech workers name an out-of-memory or
a CUDA error (engines/diffusers/pipeline_runtime.py, speech/backends/tts_runtime.py), the resident process's
parent says how a child died (resident/parent.py), the runner names an unexpected exception, and time limits say
so (a job ended `timeout`, a provider that never finished, a worker past the route's limit).
"""

from __future__ import annotations

_OOM = ("out of memory", "out of host memory", "out-of-memory")
_CUDA = ("cuda error", "cudnn", "cublas", "nccl", "device-side assert", "illegal memory access")
_TIMEOUT = ("time limit", "took longer than", "did not finish", "ran longer than", "did not load within")
_CRASH = ("internal error while", "during the job", "stopped after a fatal error", "(server restart or crash)",
          "was killed by", "exited with status")


def failure_kind(status: str, error: str | None) -> str:
    """oom, cuda_error, crash, timeout or other, for a job that ended `failed` or `timeout`."""
    if status == "timeout":
        return "timeout"
    text = (error or "").lower()
    if any(marker in text for marker in _OOM):
        return "oom"
    if any(marker in text for marker in _CUDA):
        return "cuda_error"
    if any(marker in text for marker in _TIMEOUT):
        return "timeout"
    if any(marker in text for marker in _CRASH):
        return "crash"
    return "other"
