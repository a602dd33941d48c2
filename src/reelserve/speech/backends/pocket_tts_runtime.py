"""Kyutai's Pocket TTS through transformers (PocketTTSForConditionalGeneration), in the resident child.

It clones a voice from audio alone: each line is one conversation of the batch, with its voice sample as
the audio prompt. About real time on a few CPU cores with the released weights.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
from transformers import AutoProcessor, PocketTTSForConditionalGeneration

from reelserve.resident import StopRequested
from reelserve.speech.backends.tts_messages import SpeakJob
from reelserve.speech.backends.tts_runtime import StopBetweenSteps, TransformersSpeechRuntime

_PROCESSOR_FILES = ("processor_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                    "chat_template.json", "special_tokens_map.json", "tokenizer.model", "preprocessor_config.json")


class PocketTTSRuntime(TransformersSpeechRuntime):
    def _load(self) -> None:
        weights = Path(str(self.options.weights))
        self.processor = _processor(weights, self.options.audio_tokenizer)
        self.processor.tokenizer.padding_side = "left"
        self.model = PocketTTSForConditionalGeneration.from_pretrained(str(weights), dtype=self.dtype)
        self.model.to(self.device).eval()
        self.processor.audio_tokenizer.to(self.device)

    def _speak(self, job: SpeakJob, samples: list[np.ndarray], stop: StopBetweenSteps) -> list[np.ndarray]:
        conversations = [
            [{"role": "user", "content": [{"type": "audio", "audio": sample}, {"type": "text", "text": text}]}]
            for text, sample in zip(job.texts, samples, strict=True)
        ]
        inputs = self.batch(conversations).to(self.device)
        budget = math.ceil(max(job.max_seconds) * self.model.config.frame_rate)
        # Pocket TTS takes no stopping criteria of ours: a stop is honoured before the batch starts.
        if stop.stop_requested():
            raise StopRequested
        out = self.model.generate(**inputs, max_new_tokens=budget, return_dict_in_generate=True)
        waves = self.processor.decode(out.audio_latents, out.audio_latents_mask)
        return [wave.float().cpu().numpy().reshape(-1) for wave in waves]


def _processor(weights: Path, audio_tokenizer: Path | None) -> object:
    """The checkpoint's processor, its audio tokenizer read from a local directory.

    A processor names its audio tokenizer by path or Hub id; offline, a Hub id cannot load. Then the audio
    tokenizer comes from `audio_tokenizer` (the binding's option) or `weights/audio_tokenizer`.
    """
    config_path = weights / "processor_config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    reference = config.get("audio_tokenizer", {}).get("audio_tokenizer_name_or_path")
    local = audio_tokenizer or (weights / "audio_tokenizer")
    if reference is None or (Path(reference).is_dir() and audio_tokenizer is None):
        return AutoProcessor.from_pretrained(str(weights))
    if not local.is_dir():
        raise FileNotFoundError(
            f"the processor's audio tokenizer is {reference!r}, which is not a local directory; give its local copy "
            f"as audio_tokenizer = \"/path\" in the speech table, or put it in {weights / 'audio_tokenizer'}"
        )
    with tempfile.TemporaryDirectory(prefix="reelserve-pocket-tts-") as folder:
        for name in _PROCESSOR_FILES:
            if (weights / name).is_file():
                shutil.copy(weights / name, Path(folder) / name)
        config["audio_tokenizer"]["audio_tokenizer_name_or_path"] = str(local)
        (Path(folder) / "processor_config.json").write_text(json.dumps(config))
        return AutoProcessor.from_pretrained(folder)
