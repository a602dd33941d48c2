"""Turning the `image` (and end frame) a client sends into checked image bytes, in two steps: `locate` looks at
what was sent and what it will cost to check (cheap, no network), `load` fetches and checks it.

An upload of this server was checked when it arrived (service/uploads.py): where that check found it intact, its
facts are judged by the rules again and its bytes stay in storage, unread, unless the pixels are wanted."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

from PIL import Image

from reelserve.errors import InputError
from reelserve.media.image import (
    LIGHT_PIXELS,
    ImageFacts,
    ImageRules,
    check_facts,
    check_verdict,
    decode_inline_image,
    decode_opened,
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
    facts: ImageFacts | None = None
    """What the check of an upload found when it arrived, where it found the upload intact."""

    @property
    def is_light(self) -> bool:
        """Checking it costs about a millisecond at most, unless its pixels are wanted."""
        if self.facts is not None:
            return True
        return self.url is None and self.unread_text is None and self.size <= LIGHT_IMAGE_BYTES and (
            self.pixels <= LIGHT_PIXELS
        )


@dataclass(frozen=True)
class LoadedImage:
    facts: ImageFacts
    data: bytes | None
    """None for an upload checked when it arrived, whose bytes were not needed: they lie at `storage_key`."""
    image: Image.Image | None
    """Decoded to upright RGB when the caller asked for pixels; otherwise checked and opened, not decoded, or None
    where `data` is."""
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
            return ImageSource(param, upload_key=upload.storage_key, size=upload.size, facts=upload.image_facts)
        return ImageSource(param, url=text)

    def load(self, source: ImageSource, pixels: bool = False) -> LoadedImage:
        """The checked image; with `pixels`, decoded in full."""
        param = source.param
        if source.facts is not None and not pixels:
            check_facts(source.facts, self.rules, param=param)
            return LoadedImage(source.facts, data=None, image=None, storage_key=source.upload_key)
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
        image, facts = open_checked(data, self.rules, param=param)
        if pixels:
            image = decode_opened(image, self.rules, param=param)
        elif self.heavy_checks is not None and pixels_decoded_to_verify(image) > LIGHT_PIXELS:
            refused = self.heavy_checks.submit(check_verdict, data, self.rules, param).result()
            if refused is not None:
                raise InputError(*refused)
        else:
            image = verify_opened(image, data, param=param)
        return LoadedImage(facts, data=data, image=image, storage_key=source.upload_key)
