"""Turning the `image` (and end frame) a client sends into checked image bytes."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from reelserve.media.fetch import FetchPolicy, fetch_url
from reelserve.media.image import ImageRules, decode_image, decode_inline_image


@dataclass(frozen=True)
class LoadedImage:
    data: bytes
    image: Image.Image


class ImageLoader:
    def __init__(self, policy: FetchPolicy, rules: ImageRules) -> None:
        self.policy = policy
        self.rules = rules

    def load(self, value: str, param: str) -> LoadedImage:
        """Accepts an http(s) URL, a data: URI or raw base64; raises InputError naming `param`."""
        data = decode_inline_image(value, param=param)
        if data is None:
            data = fetch_url(value.strip(), self.policy, param=param).data
        return LoadedImage(data=data, image=decode_image(data, self.rules, param=param))

    def decode_stored(self, data: bytes, param: str) -> Image.Image:
        return decode_image(data, self.rules, param=param)
