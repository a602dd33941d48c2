"""Runs a voice-creation job: decode the sample, check it is one clean voice, store it normalised."""

from __future__ import annotations

import secrets
from typing import Any

from reelserve.media.audio import decode_audio, normalise_voice
from reelserve.media.voice_checks import check_voice, require_usable_voice
from reelserve.storage.base import Storage
from reelserve.store.tables import utcnow

MAX_DECODED_SECONDS = 120


def new_voice_id() -> str:
    """18 digits, like the ids of the hosted service."""
    return str(10**17 + secrets.randbelow(9 * 10**17))


def create_voice(prediction: Any, storage: Storage) -> dict[str, Any]:
    """The new voice's row; raises InputError naming the rule a sample breaks and what was measured."""
    audio = decode_audio(storage.read_bytes(prediction.inputs["audio"]), max_seconds=MAX_DECODED_SECONDS)
    require_usable_voice(check_voice(audio))
    voice_id = new_voice_id()
    storage_key = f"voices/{voice_id}.wav"
    storage.put_bytes(storage_key, normalise_voice(audio))
    return {
        "id": voice_id,
        "key_id": prediction.key_id,
        "name": prediction.params.get("voice_name"),
        "prediction_id": prediction.id,
        "storage_key": storage_key,
        "duration_ms": int(audio.duration_seconds * 1000),
        "created_at": utcnow(),
    }
