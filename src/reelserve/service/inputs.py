"""Turning the `image` (and end frame) a client sends into checked image bytes."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from reelserve.media.fetch import FetchPolicy, fetch_url
from reelserve.media.image import ImageRules, check_image, decode_image, decode_inline_image
from reelserve.service.keys import KeyInfo
from reelserve.service.uploads import UploadService


@dataclass(frozen=True)
class LoadedImage:
    data: bytes
    image: Image.Image
    """Decoded to upright RGB when the caller asked for pixels; otherwise checked and opened, not decoded."""


class ImageLoader:
    def __init__(self, policy: FetchPolicy, rules: ImageRules, uploads: UploadService) -> None:
        self.policy = policy
        self.rules = rules
        self.uploads = uploads

    def load(self, value: str, param: str, key: KeyInfo, pixels: bool = False) -> LoadedImage:
        """Accepts an http(s) URL, a data: URI, raw base64, or an upload URL this server issued to `key`."""
        data = decode_inline_image(value, param=param)
        if data is None:
            data = self.uploads.read_issued(key, value.strip(), param)
        if data is None:
            data = fetch_url(value.strip(), self.policy, param=param).data
        examine = decode_image if pixels else check_image
        return LoadedImage(data=data, image=examine(data, self.rules, param=param))
