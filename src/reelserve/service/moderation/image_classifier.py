"""An optional NSFW image classifier: any Hugging Face image-classification model on local disk.

torch and transformers are imported on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_UNSAFE_LABELS: tuple[str, ...] = ("nsfw", "porn", "hentai", "sexy")
DEFAULT_THRESHOLD = 0.8
CONFIG_FILE = "config.json"
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")


def _require_files(path: Path) -> None:
    def present(names: Sequence[str]) -> bool:
        return any((path / name).is_file() for name in names)

    if not path.is_dir():
        raise ValueError(
            f"image classifier directory {path} does not exist; expected a saved Hugging Face "
            f"image-classification model with {CONFIG_FILE}, {WEIGHT_FILES[0]} and {PROCESSOR_FILES[0]}"
        )
    missing = [" or ".join(names) for names in ((CONFIG_FILE,), WEIGHT_FILES, PROCESSOR_FILES) if not present(names)]
    if missing:
        raise ValueError(f"image classifier directory {path} is incomplete: missing {'; '.join(missing)}")


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"image classifier config {path / CONFIG_FILE} cannot be read: {exc}") from exc
    if not isinstance(config, dict) or not isinstance(config.get("id2label"), dict):
        raise ValueError(f"image classifier config {path / CONFIG_FILE} has no id2label; is it a classification model?")
    return config


class ImageClassifier:
    """Scores images by the probability of the model's unsafe labels.

    With a single-label model (softmax) the score is the summed probability of the unsafe labels;
    with a multi-label model (sigmoid) it is the highest of them.
    """

    def __init__(
        self,
        path: str | Path,
        unsafe_labels: Sequence[str] = DEFAULT_UNSAFE_LABELS,
        threshold: float = DEFAULT_THRESHOLD,
        device: str = "cpu",
        batch_size: int = 16,
    ) -> None:
        self.path = Path(path)
        _require_files(self.path)
        config = _read_config(self.path)
        wanted = {label.casefold() for label in unsafe_labels}
        labels = {int(index): str(label) for index, label in config["id2label"].items()}
        self.unsafe_label_ids = sorted(index for index, label in labels.items() if label.casefold() in wanted)
        if not self.unsafe_label_ids:
            raise ValueError(
                f"image classifier at {self.path} has labels {sorted(labels.values())}, "
                f"none of which is an unsafe label ({', '.join(unsafe_labels)})"
            )
        self.unsafe_labels = [labels[index] for index in self.unsafe_label_ids]
        self.multi_label = config.get("problem_type") == "multi_label_classification"
        self.threshold = threshold
        self.device = device
        self.batch_size = max(1, batch_size)
        self._model: Any = None
        self._processor: Any = None
        self._load_lock = threading.Lock()

    def load(self) -> None:
        """Loads the model now rather than on the first image; safe to call more than once."""
        with self._load_lock:
            if self._model is not None:
                return
            from transformers import AutoImageProcessor, AutoModelForImageClassification

            try:
                processor = AutoImageProcessor.from_pretrained(self.path, local_files_only=True)
                model = AutoModelForImageClassification.from_pretrained(self.path, local_files_only=True)
            except Exception as exc:  # transformers and safetensors raise many types for a bad model
                raise ValueError(f"cannot load the image classifier from {self.path}: {exc}") from exc
            self._processor = processor
            self._model = model.to(self.device).eval()

    def classify(self, images: Sequence[Image.Image]) -> list[float]:
        """One unsafe score in [0, 1] per image."""
        if not images:
            return []
        self.load()
        import torch

        scores: list[float] = []
        for start in range(0, len(images), self.batch_size):
            batch = [image.convert("RGB") for image in images[start : start + self.batch_size]]
            inputs = self._processor(images=batch, return_tensors="pt").to(self.device)
            with torch.no_grad():
                logits = self._model(**inputs).logits.float()
            if self.multi_label:
                batch_scores = logits[:, self.unsafe_label_ids].sigmoid().max(dim=-1).values
            else:
                batch_scores = logits.softmax(dim=-1)[:, self.unsafe_label_ids].sum(dim=-1)
            scores.extend(batch_scores.clamp(0.0, 1.0).cpu().tolist())
        return scores

    def is_unsafe(self, image: Image.Image) -> bool:
        return self.classify([image])[0] >= self.threshold

    def flags(self, scores: Sequence[float]) -> list[bool]:
        return [score >= self.threshold for score in scores]
