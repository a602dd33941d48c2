"""Files clients upload to use as inputs (WaveSpeed-compatible): stored under `uploads/`, owned by one
key, expiring after a while; the download URLs this server issues are read straight from storage.

An image is checked once, when it arrives: where its whole file is intact, its facts (format, upright size) are
kept with it, and a submit that uses it applies the image rules to those facts without reading the file."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

from reelserve.errors import InputError, NotFound, PermissionDenied
from reelserve.media.image import LIGHT_PIXELS, ImageFacts, intact_facts
from reelserve.media.sniff import describe_content, media_kinds
from reelserve.service.keys import KeyInfo
from reelserve.sizes import format_bytes
from reelserve.storage.base import Storage
from reelserve.storage.signing import URL_PREFIX, UrlSigner
from reelserve.store import uploads as upload_store
from reelserve.store.database import Database
from reelserve.store.tables import Upload, utcnow

MAX_BYTES = {"image": 20_000_000, "video": 100_000_000, "audio": 50_000_000}
LARGEST_UPLOAD = max(MAX_BYTES.values())
KIND_OF_CONTENT_TYPE = {
    "image/jpeg": "image", "image/jpg": "image", "image/png": "image", "image/webp": "image",
    "video/mp4": "video", "video/quicktime": "video",
    "audio/mpeg": "audio", "audio/mp3": "audio", "audio/wav": "audio", "audio/x-wav": "audio",
    "audio/wave": "audio", "audio/vnd.wave": "audio", "audio/mp4": "audio", "audio/x-m4a": "audio",
    "audio/m4a": "audio", "audio/aac": "audio",
}
CONTENT_TYPE_OF_SUFFIX = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
    ".mp4": "video/mp4", ".mov": "video/quicktime",
    ".mp3": "audio/mpeg", ".wav": "audio/wav", ".m4a": "audio/mp4",
}
PUT_PATH = "/api/v3/media/uploads/"
UPLOADS_PREFIX = "uploads/"


@dataclass(frozen=True)
class IssuedUpload:
    storage_key: str
    data: bytes


@dataclass(frozen=True)
class LocatedUpload:
    storage_key: str
    size: int
    image_facts: ImageFacts | None
    """Where it is an image found intact when it arrived."""


@dataclass(frozen=True)
class UploadView:
    id: str
    kind: str
    filename: str
    content_type: str
    size: int | None
    download_path: str
    expires_at: datetime


@dataclass(frozen=True)
class PendingUpload:
    upload: UploadView
    put_path: str
    content_type: str


class UploadService:
    def __init__(self, database: Database, storage: Storage, signer: UrlSigner, ttl_seconds: int) -> None:
        self.database = database
        self.storage = storage
        self.signer = signer
        self.ttl = timedelta(seconds=ttl_seconds)

    def store(self, key: KeyInfo, filename: str | None, content_type: str | None, data: bytes) -> UploadView:
        """The one-step upload: the bytes arrive with the request."""
        name, media_type, kind = _classify(filename, content_type)
        _check_size(kind, len(data))
        if not data:
            raise InputError("the uploaded file is empty", param="file")
        _check_content(data, kind, media_type, param="file")
        upload = self._new(key, name, media_type, kind, declared_size=None)
        self.storage.put_bytes(upload.storage_key, data)
        _complete(upload, data)
        with self.database.session() as session:
            upload_store.add(session, upload)
        return self._view(upload)

    def begin(self, key: KeyInfo, filename: str, size: int, content_type: str | None) -> PendingUpload:
        """The two-step upload: announce the file, then PUT its bytes to the URL answered."""
        name, media_type, kind = _classify(filename, content_type)
        if size <= 0:
            raise InputError("size must be the file's size in bytes", param="size")
        _check_size(kind, size, param="size")
        upload = self._new(key, name, media_type, kind, declared_size=size)
        with self.database.session() as session:
            upload_store.add(session, upload)
        expires = int(upload.expires_at.timestamp())
        put_path = self.signer.signed_path_until(f"{upload.id}", expires, prefix=PUT_PATH)
        return PendingUpload(upload=self._view(upload), put_path=put_path, content_type=media_type)

    def claim(self, upload_id: str, expires: str, signature: str) -> int:
        """Checks a PUT's signed URL and takes the upload for this PUT alone, before its body is read (a
        concurrent PUT is refused here); the most bytes it may send. `receive` or `release` follows."""
        problem = self.signer.verify(upload_id, expires, signature)
        if problem is not None:
            raise PermissionDenied(f"this upload URL is not valid: {problem}")
        with self.database.session() as session:
            upload = upload_store.get(session, upload_id)
            if upload is None:
                raise NotFound("no such upload")
            if upload.status == "complete":
                raise InputError("this upload has already been received")
            if not upload_store.claim(session, upload_id):
                raise InputError("another PUT is sending this upload's bytes; an upload is received once")
            return upload.declared_size or 0

    def release(self, upload_id: str) -> None:
        """Gives a claimed upload back, for another PUT, after its body was refused or never came whole."""
        with self.database.session() as session:
            upload_store.release(session, upload_id)

    def receive(self, upload_id: str, data: bytes) -> UploadView:
        """Keeps the body of the PUT that claimed the upload; a refused body releases the upload."""
        try:
            with self.database.session() as session:
                upload = upload_store.get(session, upload_id)
                if upload is None or upload.status != upload_store.RECEIVING:
                    raise InputError("this upload is not being received; PUT its bytes to the upload URL")
                if upload.declared_size is not None and len(data) > upload.declared_size:
                    raise InputError(
                        f"the body is larger than the {upload.declared_size} bytes announced for this upload"
                    )
                if not data:
                    raise InputError("the uploaded file is empty")
                _check_content(data, upload.kind, upload.content_type)
                self.storage.put_bytes(upload.storage_key, data)
                _complete(upload, data)
                return self._view(upload)
        except Exception:
            self.release(upload_id)
            raise

    def read_issued(self, key: KeyInfo, url: str, param: str) -> IssuedUpload | None:
        """The upload behind a download URL this server issued, or None when `url` is not one."""
        located = self.locate_issued(key, url, param)
        if located is None:
            return None
        return IssuedUpload(located.storage_key, self.read_located(located.storage_key, param))

    def locate_issued(self, key: KeyInfo, url: str, param: str) -> LocatedUpload | None:
        """Where the upload behind a download URL this server issued lies, and its size, without reading it;
        None when `url` is not such a URL."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return None  # not a URL at all: the fetcher refuses it, saying why
        if not parts.path.startswith(URL_PREFIX + UPLOADS_PREFIX):
            return None
        storage_key = unquote(parts.path[len(URL_PREFIX):])
        query = parse_qs(parts.query)
        problem = self.signer.verify(
            storage_key, query.get("expires", [""])[0], query.get("signature", [""])[0]
        )
        if problem is not None:
            raise InputError(f"{param} is an upload URL of this server, but {problem}", param=param)
        upload_id = PurePosixPath(storage_key).parts[1]  # a key this server signed: uploads/<id>/<name>
        upload = upload_store.owner_and_status(self.database, upload_id)
        if upload is None or upload.status != "complete":
            raise upload_gone(param)
        if upload.key_id != key.id:
            raise InputError(f"{param}: this upload belongs to another API key", param=param)
        size = upload.size or 0
        facts = None
        if upload.image_format is not None:
            facts = ImageFacts(upload.image_format, upload.image_width, upload.image_height, size)
        return LocatedUpload(storage_key, size, facts)

    def read_located(self, storage_key: str, param: str) -> bytes:
        try:
            return self.storage.read_bytes(storage_key)
        except FileNotFoundError:
            raise upload_gone(param) from None

    def purge_expired(self, now: datetime | None = None) -> int:
        removed = 0
        with self.database.session() as session:
            for upload in upload_store.expired(session, now or utcnow()):
                self.storage.delete(upload.storage_key)
                upload_store.delete(session, upload)
                removed += 1
        return removed

    def _new(self, key: KeyInfo, name: str, media_type: str, kind: str, declared_size: int | None) -> Upload:
        upload_id = secrets.token_hex(16)
        now = utcnow()
        return Upload(
            id=upload_id, key_id=key.id, kind=kind, filename=name, content_type=media_type,
            declared_size=declared_size, size=None, storage_key=f"{UPLOADS_PREFIX}{upload_id}/{name}",
            status="pending", created_at=now, expires_at=now + self.ttl,
        )

    def _view(self, upload: Upload) -> UploadView:
        expires = int(upload.expires_at.timestamp())
        return UploadView(
            id=upload.id, kind=upload.kind, filename=upload.filename, content_type=upload.content_type,
            size=upload.size, download_path=self.signer.signed_path_until(upload.storage_key, expires),
            expires_at=upload.expires_at,
        )


def _complete(upload: Upload, data: bytes) -> None:
    """Marks the upload received, with the facts of an image found intact."""
    upload.size = len(data)
    upload.status = "complete"
    facts = intact_facts(data, most_pixels_decoded=LIGHT_PIXELS) if upload.kind == "image" else None
    if facts is not None:
        upload.image_format, upload.image_width, upload.image_height = facts.format, facts.width, facts.height


def _classify(filename: str | None, content_type: str | None) -> tuple[str, str, str]:
    name = _safe_filename(filename or "upload")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in ("", "application/octet-stream"):
        media_type = CONTENT_TYPE_OF_SUFFIX.get(PurePosixPath(name).suffix.lower(), media_type)
    kind = KIND_OF_CONTENT_TYPE.get(media_type)
    if kind is None:
        accepted = "JPEG, PNG or WebP images; MP4 or MOV videos; MP3, WAV or M4A audio"
        raise InputError(
            f"files of type {media_type or 'unknown'} cannot be uploaded; upload {accepted}", param="content_type"
        )
    return name, media_type, kind


def _check_size(kind: str, size: int, param: str = "file") -> None:
    if size > MAX_BYTES[kind]:
        raise InputError(
            f"the {kind} is {size:,} bytes; {kind} uploads may be at most {format_bytes(MAX_BYTES[kind])}",
            param=param,
        )


def _check_content(data: bytes, kind: str, media_type: str, param: str | None = None) -> None:
    """The bytes must be the kind of file declared: an 'image' that is an HTML page is refused at once."""
    if kind in media_kinds(data):
        return
    found = describe_content(data) or "of a kind this server does not recognise"
    article = "an" if kind[0] in "aeiou" else "a"
    raise InputError(
        f"the file is {found}, not {article} {kind} as its type {media_type} declares; "
        "upload JPEG, PNG or WebP images, MP4 or MOV videos, MP3, WAV or M4A audio",
        param=param,
    )


def _safe_filename(filename: str) -> str:
    base = PurePosixPath(filename.replace("\\", "/")).name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "upload"
    return cleaned[-100:]


def upload_gone(param: str) -> InputError:
    """The refusal of an upload URL whose file is gone (expired, or never completed)."""
    return InputError(f"{param}: this upload has expired or was never completed", param=param)
