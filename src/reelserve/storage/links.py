"""Links to stored files in answers: the store's own presigned URLs where it has them, else reelserve's signed
`/files/` links (always valid: the API streams any stored file from the store)."""

from __future__ import annotations

from reelserve.storage.base import Storage
from reelserve.storage.signing import UrlSigner


class FileLinks(UrlSigner):
    def __init__(self, secret: bytes, ttl_seconds: int, storage: Storage, via_api: bool) -> None:
        super().__init__(secret, ttl_seconds)
        self.storage = storage
        self.via_api = via_api

    def url_for(self, key: str, base_url: str) -> str:
        if not self.via_api:
            presigned = self.storage.presigned_get(key, self.ttl_seconds)
            if presigned is not None:
                return presigned
        return super().url_for(key, base_url)
