"""Custom voices: accepting a voice-creation job, and the caller's voices afterwards.

The job itself (decode, check, normalise, store) runs in the worker: worker/voice_job.py.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from reelserve.catalog.prices import PriceList
from reelserve.catalog.routes import VOICE_MODEL_ID, input_error_from
from reelserve.errors import InputError, NotFound
from reelserve.media.image import decode_inline_image
from reelserve.net.fetch import FetchPolicy, fetch_url
from reelserve.service.admission import check_route_permission
from reelserve.service.jobs import JobIntake, NewJob
from reelserve.service.keys import KeyInfo
from reelserve.service.uploads import MAX_BYTES, UploadService
from reelserve.service.views import PredictionView
from reelserve.storage.base import Storage
from reelserve.store import voices as voice_store
from reelserve.store.database import Database

MAX_AUDIO_BYTES = MAX_BYTES["audio"]
VOICE_JOB_MAX_RUN_SECONDS = 300


class VoiceCreationParams(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    audio: str = Field(
        validation_alias=AliasChoices("audio", "voice_url"),
        description="5 to 30 s of one clean voice: an http(s) URL, a data: URI, or an upload URL of this server "
        "(.mp3, .wav, .m4a, or the audio of .mp4 / .mov). Alias: voice_url.",
    )
    voice_name: str | None = Field(default=None, max_length=20)
    enable_sync_mode: bool = False


@dataclass(frozen=True)
class VoiceInfo:
    id: str
    name: str | None
    duration_seconds: float
    created_at: datetime
    sample_key: str


class VoiceService:
    def __init__(
        self, database: Database, storage: Storage, intake: JobIntake, uploads: UploadService,
        policy: FetchPolicy, prices: PriceList, queue: str,
    ) -> None:
        self.database = database
        self.storage = storage
        self.intake = intake
        self.uploads = uploads
        self.policy = dataclasses.replace(policy, max_bytes=MAX_AUDIO_BYTES)
        self.prices = prices
        self.queue = queue

    def submit(self, key: KeyInfo, body: Any) -> tuple[PredictionView, bool]:
        check_route_permission(key, VOICE_MODEL_ID)
        if not isinstance(body, dict):
            raise InputError("the request body must be a JSON object")
        try:
            params = VoiceCreationParams.model_validate(body)
        except ValidationError as exc:
            raise input_error_from(exc) from None
        audio = self._load_audio(key, params.audio)
        view = self.intake.accept(
            key,
            NewJob(
                prediction_id=secrets.token_hex(16),
                model=VOICE_MODEL_ID,
                params={"voice_name": params.voice_name},
                input_files={"audio": audio},
                price_micros=self.prices.voice_creation_micros(),
                queue=self.queue,
                max_run_seconds=VOICE_JOB_MAX_RUN_SECONDS,
            ),
        )
        return view, params.enable_sync_mode

    def list(self, key: KeyInfo) -> list[VoiceInfo]:
        with self.database.read() as session:
            return [_info(voice) for voice in voice_store.list_owned(session, key.id)]

    def get(self, key: KeyInfo, voice_id: str) -> VoiceInfo:
        with self.database.read() as session:
            voice = voice_store.get_owned(session, voice_id, key.id)
            if voice is None:
                raise NotFound.no_such("voice", voice_id)
            return _info(voice)

    def delete(self, key: KeyInfo, voice_id: str) -> None:
        with self.database.session() as session:
            voice = voice_store.get_owned(session, voice_id, key.id)
            if voice is None:
                raise NotFound.no_such("voice", voice_id)
            voice_store.delete(session, voice)
            self.storage.delete(voice.storage_key)

    def sample_keys(self, key: KeyInfo, voice_refs: list[Any]) -> list[str]:
        """Storage keys of the samples behind a request's voice_list, each checked to be the caller's."""
        keys: list[str] = []
        if not voice_refs:
            return keys
        with self.database.read() as session:
            for position, ref in enumerate(voice_refs):
                voice = voice_store.get_owned(session, ref.voice_id, key.id)
                if voice is None:
                    raise InputError(
                        f"voice_list[{position}]: there is no voice {ref.voice_id} for this API key",
                        param=f"voice_list[{position}].voice_id",
                    )
                keys.append(voice.storage_key)
        return keys

    def _load_audio(self, key: KeyInfo, value: str) -> bytes:
        data = decode_inline_image(value, param="audio", max_bytes=MAX_AUDIO_BYTES, what="audio")
        if data is not None:
            return data
        upload = self.uploads.read_issued(key, value.strip(), "audio")
        if upload is not None:
            return upload.data
        return fetch_url(value.strip(), self.policy, param="audio").data


def _info(voice: Any) -> VoiceInfo:
    return VoiceInfo(
        id=voice.id, name=voice.name, duration_seconds=voice.duration_ms / 1000, created_at=voice.created_at,
        sample_key=voice.storage_key,
    )
