"""VibeVoice through transformers (VibeVoiceForConditionalGeneration), in the resident child process.

Each line is one conversation of the batch, its speaker cloned from the voice sample given with it, so
all the lines of a video, in both voices, are generated in one pass. No transcript of the sample needed.
"""

from __future__ import annotations

import math

import numpy as np
from transformers import AutoProcessor, VibeVoiceForConditionalGeneration

from reelserve.speech.backends.tts_messages import SpeakJob
from reelserve.speech.backends.tts_runtime import StopBetweenSteps, TransformersSpeechRuntime


class VibeVoiceRuntime(TransformersSpeechRuntime):
    def _load(self) -> None:
        self.processor = AutoProcessor.from_pretrained(str(self.options.weights))
        # Batched generation continues each row from its end: pad on the left.
        self.processor.tokenizer.padding_side = "left"
        self.model = VibeVoiceForConditionalGeneration.from_pretrained(str(self.options.weights), dtype=self.dtype)
        self.model.to(self.device).eval()
        self.frames_per_second = self.rate / self.model.config.audio_config.hop_length

    def _speak(self, job: SpeakJob, samples: list[np.ndarray], stop: StopBetweenSteps) -> list[np.ndarray]:
        conversations = [
            [{"role": "0", "content": [{"type": "text", "text": text}, {"type": "audio", "audio": sample}]}]
            for text, sample in zip(job.texts, samples, strict=True)
        ]
        inputs = self.batch(conversations).to(self.device, self.dtype)
        # One frame per hop, plus the begin and end of audio: a line may not outlast its window.
        budget = math.ceil(max(job.max_seconds) * self.frames_per_second) + 2
        audio = self.model.generate(
            **inputs,
            max_new_tokens=budget,
            num_diffusion_steps=self.options.diffusion_steps,
            stopping_criteria=[stop],
        )
        return [
            np.zeros(0, np.float32) if wave is None else wave.float().cpu().numpy().reshape(-1) for wave in audio
        ]
