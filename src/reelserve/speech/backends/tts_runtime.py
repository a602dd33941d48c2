"""What the transformers speech runtimes share inside their child process: device and dtype, the voice
samples as the models take them, and stopping between generation steps. Imports torch."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import StoppingCriteria

from reelserve.jobs.status import FailureKind
from reelserve.media.resample import resample_mono
from reelserve.resident import StopRequested
from reelserve.resident.failures import runtime_failure
from reelserve.speech.backends.tts_messages import SpeakDone, SpeakJob
from reelserve.speech.options import SpeechOptions
from reelserve.speech.waves import read_wav_mono


def resolve_device(device: str) -> torch.device:
    if device != "auto":
        return torch.device(device)
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, dtype)


class StopBetweenSteps(StoppingCriteria):
    """Counts generation steps for progress and raises StopRequested when the job is to stop."""

    def __init__(self, on_step: Callable[[int], None], stop_requested: Callable[[], bool]) -> None:
        self.on_step = on_step
        self.stop_requested = stop_requested
        self.steps = 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        self.steps += 1
        self.on_step(self.steps)
        if self.stop_requested():
            raise StopRequested
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


class TransformersSpeechRuntime(ABC):
    """Base of the runtimes: subclasses load their model and processor and speak a batch of lines in one pass."""

    model_title = "speech model"
    processor: Any

    def __init__(self, options: SpeechOptions) -> None:
        self.options = options
        self.device = resolve_device(options.device)
        self.dtype = resolve_dtype(options.dtype, self.device)

    def load(self) -> float:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        started = time.monotonic()
        self._load()
        return time.monotonic() - started

    @abstractmethod
    def _load(self) -> None:
        """Loads the model from `options.weights` onto the device."""

    def run(self, job: SpeakJob, on_step: Callable[[int], None], stop_requested: Callable[[], bool]) -> SpeakDone:
        samples = [self.sample(path) for path in job.voice_samples]
        with torch.inference_mode():
            waves = self._speak(job, samples, StopBetweenSteps(on_step, stop_requested))
        return SpeakDone(job.job_id, [np.asarray(wave, np.float32).reshape(-1) for wave in waves], self.rate)

    @abstractmethod
    def _speak(self, job: SpeakJob, samples: list[np.ndarray], stop: StopBetweenSteps) -> list[np.ndarray]:
        """One wave per line of the job, at `rate`, each voice cloned from its sample."""

    @property
    def rate(self) -> int:
        """The model's sampling rate: the samples are resampled to it, the waves come out at it."""
        return int(self.processor.feature_extractor.sampling_rate)

    def batch(self, conversations: list[list[dict[str, Any]]]) -> Any:
        """The processor's padded batch of chat conversations (one per line), with the samples at `rate`; the
        caller moves it to its device."""
        return self.processor.apply_chat_template(
            conversations,
            tokenize=True,
            return_dict=True,
            processor_kwargs={"sampling_rate": self.rate, "return_tensors": "pt", "padding": True},
        )

    def sample(self, path: str) -> np.ndarray:
        signal, rate = read_wav_mono(Path(path))
        return resample_mono(signal, rate, self.rate)

    @classmethod
    def load_failure(cls, options: SpeechOptions, error: BaseException) -> tuple[str, FailureKind]:
        message, kind = cls.describe_failure(error, None)
        return f"could not load the {options.backend} speech model from {options.weights}: " + message.removeprefix(
            "speech generation failed: "
        ), kind

    @staticmethod
    def describe_failure(error: BaseException, job: Any) -> tuple[str, FailureKind]:
        seen = runtime_failure(error)
        text, kind = seen.text, seen.kind
        if seen.in_host_memory:
            return f"the speech worker ran out of host memory: {text}", kind
        if kind == FailureKind.OOM:
            return f"the GPU ran out of memory speaking the lines; the speech worker restarts [{text}]", kind
        if kind == FailureKind.CUDA_ERROR:
            return f"a CUDA error stopped the speech; the speech worker restarts [{text}]", kind
        return f"speech generation failed: {type(error).__name__}: {text}", kind
