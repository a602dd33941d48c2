"""API keys: creating, listing, revoking, and recognising them on each request."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from reelserve.errors import AuthenticationError, NotFound
from reelserve.store import keys as key_store
from reelserve.store.database import Database
from reelserve.store.tables import ApiKey, utcnow

KEY_PREFIX = "sk-"


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class CreatedKey:
    info: KeyInfo
    secret: str


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class KeyService:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, name: str) -> CreatedKey:
        secret = KEY_PREFIX + secrets.token_hex(24)
        key = ApiKey(
            id="key_" + secrets.token_hex(8),
            name=name,
            key_hash=hash_key(secret),
            key_prefix=secret[:10],
            created_at=utcnow(),
        )
        with self.database.session() as session:
            key_store.add(session, key)
        return CreatedKey(info=_info(key), secret=secret)

    def list(self) -> list[KeyInfo]:
        with self.database.session() as session:
            return [_info(key) for key in key_store.list_all(session)]

    def revoke(self, key_id: str) -> KeyInfo:
        with self.database.session() as session:
            key = key_store.revoke(session, key_id)
            if key is None:
                raise NotFound(f"no key with id {key_id}")
            return _info(key)

    def has_any(self) -> bool:
        with self.database.session() as session:
            return key_store.count(session) > 0

    def authenticate(self, authorization: str | None) -> KeyInfo:
        """Accepts `sk-...` as it is and `Bearer sk-...`."""
        raw = (authorization or "").strip()
        if raw[:7].lower() == "bearer ":
            raw = raw[7:].strip()
        if not raw:
            raise AuthenticationError("missing API key: send it in the Authorization header")
        with self.database.session() as session:
            key = key_store.find_active_by_hash(session, hash_key(raw))
            if key is None:
                raise AuthenticationError("invalid or revoked API key")
            return _info(key)


def _info(key: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=key.id, name=key.name, prefix=key.key_prefix, created_at=key.created_at, revoked_at=key.revoked_at
    )
