"""API keys: creating, listing, revoking, and recognising them on each request.

Every key belongs to an account that holds its money; keys are stored only as SHA-256 hashes.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from reelserve.catalog.bindings import served_route_ids
from reelserve.catalog.routes import VOICE_MODEL_ID
from reelserve.errors import AuthenticationError, InputError, NotFound, echoed
from reelserve.service.money import micros_to_usd, usd_to_micros
from reelserve.store import accounts as account_store
from reelserve.store import keys as key_store
from reelserve.store.database import Database
from reelserve.store.tables import Account, ApiKey, utcnow

KEY_PREFIX = "sk-"
ROLES = ("user", "admin")
# The limits are stored in Integer columns: 32-bit on PostgreSQL.
MAX_LIMIT = 2**31 - 1
MAX_NAME_CHARS = 200
LIMIT_COLUMNS = {"rpm": "rpm_limit", "max_concurrency": "concurrency_limit", "models": "allowed_models"}


@dataclass(frozen=True)
class KeyLimits:
    rpm: int | None = None
    max_concurrency: int | None = None
    models: list[str] | None = None


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    prefix: str
    account_id: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
    limits: KeyLimits = field(default_factory=KeyLimits)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class CreatedKey:
    info: KeyInfo
    secret: str


@dataclass(frozen=True)
class KeyDetails:
    info: KeyInfo
    balance_usd: float
    usage: dict[str, int]


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class RecentKeys:
    """Keys recently recognised, so most requests skip the database; a revocation made in another
    process is seen once the entry expires."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[KeyInfo, float]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> KeyInfo | None:
        with self._lock:
            entry = self._entries.get(key_hash)
            if entry is None or entry[1] < time.monotonic():
                self._entries.pop(key_hash, None)
                return None
            return entry[0]

    def put(self, key_hash: str, info: KeyInfo) -> None:
        if self.ttl_seconds <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key_hash] = (info, time.monotonic() + self.ttl_seconds)

    def forget(self, key_id: str) -> None:
        with self._lock:
            for key_hash in [h for h, (info, _) in self._entries.items() if info.id == key_id]:
                del self._entries[key_hash]


class KeyService:
    def __init__(
        self, database: Database, cache_seconds: float = 0.0, known_models: Collection[str] | None = None
    ) -> None:
        self.database = database
        self.recent = RecentKeys(cache_seconds)
        self.known_models = frozenset(known_models if known_models is not None else served_route_ids(None))
        """The routes a key may be limited to: those the server's catalog serves."""

    def create(
        self, name: str, balance_usd: str | float = 0, limits: KeyLimits | None = None, role: str = "user"
    ) -> CreatedKey:
        limits = limits or KeyLimits()
        _check_new_key(name, role, limits, self.known_models)
        try:
            opening_micros = usd_to_micros(balance_usd)
        except ValueError as exc:
            raise InputError(str(exc), param="balance") from None
        if opening_micros < 0:
            raise InputError("a key's opening balance cannot be negative", param="balance")
        secret = KEY_PREFIX + secrets.token_hex(24)
        now = utcnow()
        account = Account(id="acct_" + secrets.token_hex(8), name=name, balance_micros=0, created_at=now)
        key = ApiKey(
            id="key_" + secrets.token_hex(8),
            name=name,
            account_id=account.id,
            role=role,
            rpm_limit=limits.rpm,
            concurrency_limit=limits.max_concurrency,
            allowed_models=limits.models,
            key_hash=hash_key(secret),
            key_prefix=secret[:10],
            created_at=now,
        )
        with self.database.session() as session:
            account_store.add(session, account)
            key_store.add(session, key)
            if opening_micros:
                # Within range already (usd_to_micros), and the account is new: this credit cannot overflow.
                account_store.credit(session, account.id, opening_micros, "topup", None, "opening balance")
        return CreatedKey(info=_info(key), secret=secret)

    def list(self) -> list[KeyInfo]:
        with self.database.read() as session:
            return [_info(key) for key in key_store.list_all(session)]

    def show(self, key_id: str) -> KeyDetails:
        with self.database.read() as session:
            key = session.get(ApiKey, key_id)
            if key is None:
                raise NotFound.no_such("key", key_id)
            account = account_store.get(session, key.account_id)
            return KeyDetails(
                info=_info(key),
                balance_usd=micros_to_usd(account.balance_micros if account else 0),
                usage=account_store.usage(session, key.id),
            )

    def revoke(self, key_id: str) -> KeyInfo:
        with self.database.session() as session:
            key = key_store.revoke(session, key_id)
            if key is None:
                raise NotFound.no_such("key", key_id)
            info = _info(key)
        self.recent.forget(key_id)
        return info

    def set_limits(self, key_id: str, limits: KeyLimits, fields: Collection[str]) -> KeyInfo:
        """Sets the limits named in `fields` (rpm, max_concurrency, models) to those of `limits`; None lifts one
        (the server's default applies). Another API process sees the change once its recent-keys entry expires."""
        _check_limits(limits, self.known_models)
        with self.database.session() as session:
            key = key_store.set_limits(
                session, key_id, {LIMIT_COLUMNS[name]: getattr(limits, name) for name in fields}
            )
            if key is None:
                raise NotFound.no_such("key", key_id)
            info = _info(key)
        self.recent.forget(key_id)
        return info

    def has_any(self) -> bool:
        with self.database.read() as session:
            return key_store.count(session) > 0


    def recognised(self, authorization: str | None) -> KeyInfo | None:
        """The key from the recent-keys cache, without touching the database; None on a miss."""
        raw = _raw_key(authorization)
        return self.recent.get(hash_key(raw)) if raw else None

    def authenticate(self, authorization: str | None) -> KeyInfo:
        """Accepts `sk-...` as it is and `Bearer sk-...`."""
        raw = _raw_key(authorization)
        if not raw:
            raise AuthenticationError("missing API key: send it in the Authorization header")
        key_hash = hash_key(raw)
        cached = self.recent.get(key_hash)
        if cached is not None:
            return cached
        with self.database.read() as session:
            key = key_store.find_active_by_hash(session, key_hash)
            if key is None:
                raise AuthenticationError("invalid or revoked API key")
            info = _info(key)
        self.recent.put(key_hash, info)
        return info


def _raw_key(authorization: str | None) -> str:
    raw = (authorization or "").strip()
    if raw[:7].lower() == "bearer ":
        raw = raw[7:].strip()
    return raw


def _check_new_key(name: str, role: str, limits: KeyLimits, known_models: Collection[str]) -> None:
    if not name.strip():
        raise InputError("a key needs a name", param="name")
    if len(name) > MAX_NAME_CHARS:
        raise InputError(f"a key's name has at most {MAX_NAME_CHARS} characters", param="name")
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}", param="role")
    _check_limits(limits, known_models)


def _check_limits(limits: KeyLimits, known_models: Collection[str]) -> None:
    for param, value in (("rpm", limits.rpm), ("max_concurrency", limits.max_concurrency)):
        if value is not None and not 1 <= value <= MAX_LIMIT:
            raise InputError(f"{param} must be a whole number from 1 to {MAX_LIMIT}", param=param)
    if limits.models is not None:
        unknown = [model for model in limits.models if model not in known_models and model != VOICE_MODEL_ID]
        if unknown:
            raise InputError(f"unknown model route(s): {echoed(', '.join(unknown), 200)}", param="models")


def _info(key: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=key.id,
        name=key.name,
        prefix=key.key_prefix,
        account_id=key.account_id,
        role=key.role,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
        limits=KeyLimits(rpm=key.rpm_limit, max_concurrency=key.concurrency_limit, models=key.allowed_models),
    )
