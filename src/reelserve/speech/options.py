"""A route's speech configuration: the `speech` table of its binding in reelserve.toml.

    [routes."kwaivgi/kling-v2.6-std/image-to-video".speech]
    backend = "vibevoice"            # or "pocket-tts"; "approximate" (the default) takes no other option
    weights = "/models/VibeVoice-1.5B-hf"
    device = "cuda"                  # "auto" (default): cuda when there is one, else cpu
    dtype = "bfloat16"               # "auto" (default): bfloat16 on a GPU, float32 on the CPU
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

BACKENDS = ("approximate", "vibevoice", "pocket-tts")
_ALIASES = {"pocket_tts": "pocket-tts", "pockettts": "pocket-tts"}
DTYPES = ("auto", "float32", "float16", "bfloat16")
VOICE_MATCH = {"approximate": "approximate", "vibevoice": "cloned", "pocket-tts": "cloned"}


@dataclass(frozen=True)
class SpeechOptions:
    backend: str = "approximate"
    weights: Path | None = None
    device: str = "auto"
    dtype: str = "auto"
    diffusion_steps: int = 10
    """VibeVoice's diffusion steps per audio frame."""
    audio_tokenizer: Path | None = None
    """Pocket TTS: a local copy of its audio tokenizer, where the checkpoint names one on the Hub."""
    load_timeout_seconds: float = 900.0
    job_timeout_seconds: float = 600.0

    @property
    def voice_match(self) -> str:
        return VOICE_MATCH[self.backend]


def parse_speech_options(table: Any, base_dir: Path) -> SpeechOptions:
    """The options of a `speech` table (None: the default); ValueError naming what is wrong."""
    if table is None:
        return SpeechOptions()
    if not isinstance(table, dict):
        raise ValueError("speech must be a table, e.g. speech = { backend = \"approximate\" }")
    values = dict(table)
    backend = str(values.pop("backend", "approximate")).lower()
    backend = _ALIASES.get(backend, backend)
    if backend not in BACKENDS:
        raise ValueError(f"speech.backend = {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "approximate":
        if values:
            raise ValueError(f"the approximate speech backend takes no options (got {', '.join(sorted(values))})")
        return SpeechOptions()
    known = {"weights", "device", "dtype", "diffusion_steps", "audio_tokenizer", "load_timeout_seconds",
             "job_timeout_seconds"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown speech option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if "weights" not in values:
        raise ValueError(f"the {backend} speech backend needs weights = \"/path/to/the/model\" (a local directory)")
    dtype = str(values.get("dtype", "auto"))
    if dtype not in DTYPES:
        raise ValueError(f"speech.dtype = {dtype!r}; choose one of {', '.join(DTYPES)}")
    steps = values.get("diffusion_steps", 10)
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 100:
        raise ValueError(f"speech.diffusion_steps must be an integer from 1 to 100 (got {steps!r})")
    return SpeechOptions(
        backend=backend,
        weights=_path(values["weights"], base_dir),
        device=str(values.get("device", "auto")),
        dtype=dtype,
        diffusion_steps=steps,
        audio_tokenizer=_path(values["audio_tokenizer"], base_dir) if "audio_tokenizer" in values else None,
        load_timeout_seconds=_seconds(values, "load_timeout_seconds", 900.0),
        job_timeout_seconds=_seconds(values, "job_timeout_seconds", 600.0),
    )


def _path(value: Any, base_dir: Path) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def _seconds(values: dict[str, Any], name: str, default: float) -> float:
    value = values.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"speech.{name} must be a positive number of seconds (got {value!r})")
    return float(value)
