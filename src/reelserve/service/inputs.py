"""Turning the `image` (and end frame) a client sends into checked image bytes, in two steps: `locate` looks at
what was sent and what it will cost to check (cheap, no network), `load` fetches and checks it."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

from PIL import Image

from reelserve.errors import InputError
from reelserve.media.image import (
    ImageRules,
    check_verdict,
    decode_image,
    decode_inline_image,
    open_checked,
    pixels_decoded_to_verify,
    pixels_to_decode,
    verify_opened,
)
from reelserve.net.fetch import FetchPolicy, fetch_url
from reelserve.service.keys import KeyInfo
from reelserve.service.uploads import UploadService

LIGHT_IMAGE_BYTES = 256 * 1024
"""An image up to this size, checked without decoding its pixels, costs at most about a millisecond."""
LIGHT_PIXELS = 2_000_000


@dataclass(frozen=True)
class ImageSource:
    """Where an image comes from, and what checking it costs."""

    param: str
    url: str | None = None
    """An http(s) URL to fetch."""
    data: bytes | None = None
    """The bytes, when they came inline."""
    upload_key: str | None = None
    """The storage key of an upload of this server."""
    size: int = 0
    pixels: int = 0
    """Pixels a check decodes in full (0 for formats checked by their bytes)."""
    unread_text: str | None = None
    """Inline data too long to decode while locating: decoded by `load`."""

    @property
    def is_light(self) -> bool:
        return self.url is None and self.unread_text is None and self.size <= LIGHT_IMAGE_BYTES and (
            self.pixels <= LIGHT_PIXELS
        )


@dataclass(frozen=True)
class LoadedImage:
    data: bytes
    image: Image.Image
    """Decoded to upright RGB when the caller asked for pixels; otherwise checked and opened, not decoded."""
    storage_key: str | None = None
    """Where in storage these bytes already lie (an upload), if anywhere."""


class ImageLoader:
    def __init__(
        self, policy: FetchPolicy, rules: ImageRules, uploads: UploadService, heavy_checks: Executor | None = None
    ) -> None:
        self.policy = policy
        self.rules = rules
        self.uploads = uploads
        self.heavy_checks = heavy_checks
        """Where the checks that decode many pixels run (another process): some decoders (WebP's) hold Python's
        lock for the whole decode, which would pause every other thread of this one, the event loop's too."""

    def locate(self, value: str, param: str, key: KeyInfo) -> ImageSource:
        """An http(s) URL, a data: URI, raw base64, or an upload URL this server issued to `key`; refuses what is
        none of these, or an upload that is not the caller's."""
        text = value.strip()
        if len(text) > LIGHT_IMAGE_BYTES * 2:
            if text[:8].lower().startswith(("http://", "https://")):
                return ImageSource(param, url=text)
            return ImageSource(param, unread_text=text, size=len(text) * 3 // 4)
        data = decode_inline_image(text, param=param)
        if data is not None:
            return ImageSource(param, data=data, size=len(data), pixels=pixels_to_decode(data))
        upload = self.uploads.locate_issued(key, text, param)
        if upload is not None:
            return ImageSource(param, upload_key=upload.storage_key, size=upload.size)
        return ImageSource(param, url=text)

    def load(self, source: ImageSource, pixels: bool = False) -> LoadedImage:
        """The checked image; with `pixels`, decoded in full."""
        param = source.param
        if source.unread_text is not None:
            data = decode_inline_image(source.unread_text, param=param)
            assert data is not None
        elif source.data is not None:
            data = source.data
        elif source.upload_key is not None:
            data = self.uploads.read_located(source.upload_key, param)
        else:
            assert source.url is not None
            data = fetch_url(source.url, self.policy, param=param).data
        if pixels:
            image = decode_image(data, self.rules, param=param)
        else:
            image = open_checked(data, self.rules, param=param)
            if self.heavy_checks is not None and pixels_decoded_to_verify(image) > LIGHT_PIXELS:
                refused = self.heavy_checks.submit(check_verdict, data, self.rules, param).result()
                if refused is not None:
                    raise InputError(*refused)
            else:
                image = verify_opened(image, data, param=param)
        return LoadedImage(data=data, image=image, storage_key=source.upload_key)
