"""The transformers speech backends as the server sees them: the model in a resident child process."""

from __future__ import annotations

import uuid
from importlib.util import find_spec

import numpy as np

from reelserve.media.resample import resample_mono
from reelserve.resident import ResidentWorker, WorkerFailed, WorkerStopped
from reelserve.speech.backends.base import LineToSpeak, SpeechError, SpeechInterrupted, StopCheck
from reelserve.speech.backends.tts_messages import SpeakDone, SpeakJob
from reelserve.speech.options import SpeechOptions
from reelserve.speech.waves import SAMPLE_RATE

RUNTIMES = {
    "vibevoice": "reelserve.speech.backends.vibevoice_runtime:VibeVoiceRuntime",
    "pocket-tts": "reelserve.speech.backends.pocket_tts_runtime:PocketTTSRuntime",
}
# Files a model directory saved with save_pretrained holds, whatever the model.
_REQUIRED_FILES = ("config.json",)


class ResidentSpeechBackend:
    voice_match = "cloned"

    def __init__(self, options: SpeechOptions) -> None:
        self.options = options
        self.name = options.backend
        self._worker = ResidentWorker(
            f"speech-{options.backend}",
            RUNTIMES[options.backend],
            options,
            load_timeout_seconds=options.load_timeout_seconds,
            job_timeout_seconds=options.job_timeout_seconds,
            steps="lines",
        )

    def start(self) -> None:
        missing = [name for name in ("torch", "transformers") if find_spec(name) is None]
        if missing:
            raise SpeechError(
                f"the {self.name} speech backend needs {', '.join(missing)}: pip install 'reelserve[diffusion]'"
            )
        weights = self.options.weights
        assert weights is not None
        if not weights.is_dir():
            raise SpeechError(f"the {self.name} speech weights {weights} do not exist (a local model directory)")
        absent = [name for name in _REQUIRED_FILES if not (weights / name).is_file()]
        if absent:
            raise SpeechError(f"the {self.name} speech weights {weights} lack {', '.join(absent)}")
        self._worker.start()

    def wait_until_ready(self, timeout: float | None = None) -> None:
        try:
            self._worker.wait_until_ready(timeout)
        except WorkerFailed as failure:
            raise SpeechError(str(failure), kind=failure.kind) from None

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid

    def speak(self, lines: list[LineToSpeak], should_stop: StopCheck) -> list[np.ndarray]:
        job = SpeakJob(
            job_id=uuid.uuid4().hex,
            texts=[line.text for line in lines],
            voice_samples=[str(line.voice_sample) for line in lines],
            max_seconds=[line.max_seconds for line in lines],
        )
        try:
            done: SpeakDone = self._worker.run(job, lambda progress: None, should_stop)
        except WorkerStopped as stopped:
            raise SpeechInterrupted(str(stopped)) from None
        except WorkerFailed as failure:
            raise SpeechError(str(failure), kind=failure.kind) from None
        return [resample_mono(wave, done.rate, SAMPLE_RATE) for wave in done.waves]

    def close(self) -> None:
        self._worker.close()
