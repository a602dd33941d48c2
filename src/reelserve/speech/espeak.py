"""Running espeak-ng, the formant synthesiser the approximate backend starts from."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np

from reelserve.speech.backends.base import SpeechError
from reelserve.speech.waves import read_wav_mono

ESPEAK = "espeak-ng"
INSTALL_HINT = "install it (Debian/Ubuntu: apt-get install espeak-ng; macOS: brew install espeak-ng)"
_TIMEOUT_SECONDS = 60
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")


def require_espeak() -> str:
    found = shutil.which(ESPEAK)
    if found is None:
        raise SpeechError(f"the approximate speech backend needs the espeak-ng program, which is not installed: "
                          f"{INSTALL_HINT}")
    return found


def language_of(text: str) -> str:
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    if _HAN.search(text):
        return "cmn"
    return "en-us"


def speak(text: str, *, words_per_minute: int, female: bool) -> tuple[np.ndarray, int]:
    """`text` said by espeak-ng: mono float32 and its sample rate (22,050 Hz)."""
    voice = language_of(text) + ("+f3" if female else "")
    command = [require_espeak(), "-v", voice, "-s", str(words_per_minute), "--stdout", "--stdin"]
    try:
        done = subprocess.run(
            command, input=text.encode(), capture_output=True, timeout=_TIMEOUT_SECONDS, check=False
        )
    except FileNotFoundError:
        raise SpeechError(f"espeak-ng disappeared while speaking: {INSTALL_HINT}") from None
    except subprocess.TimeoutExpired:
        raise SpeechError(f"espeak-ng took over {_TIMEOUT_SECONDS} s to say one line") from None
    if done.returncode != 0 or not done.stdout:
        detail = done.stderr.decode(errors="replace").strip()[:200]
        raise SpeechError(f"espeak-ng failed (exit status {done.returncode}): {detail}")
    # espeak-ng writing to a pipe cannot seek back to fill in the WAV header's sizes; read what is there.
    return read_wav_mono(_fixed_sizes(done.stdout))


def _fixed_sizes(data: bytes) -> bytes:
    data_at = data.find(b"data", 12)
    if data.startswith(b"RIFF") and data_at > 0:
        body = len(data) - (data_at + 8)
        body -= body % 2
        return b"".join([
            b"RIFF", (data_at + body).to_bytes(4, "little"), data[8:data_at], b"data",
            body.to_bytes(4, "little"), data[data_at + 8 : data_at + 8 + body],
        ])
    return data
