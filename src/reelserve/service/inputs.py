"""Turning the `image` (and end frame) a client sends into checked image bytes."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from reelserve.errors import WouldBlock
from reelserve.media.fetch import FetchPolicy, fetch_url
from reelserve.media.image import ImageRules, check_image, decode_image, decode_inline_image
from reelserve.service.keys import KeyInfo
from reelserve.service.uploads import UploadService

# The largest image a load that may not wait takes on: checking it costs about a millisecond at most.
UNWAITED_IMAGE_BYTES = 256 * 1024


@dataclass(frozen=True)
class LoadedImage:
    data: bytes
    image: Image.Image
    """Decoded to upright RGB when the caller asked for pixels; otherwise checked and opened, not decoded."""
    storage_key: str | None = None
    """Where in storage these bytes already lie (an upload), if anywhere."""


class ImageLoader:
    def __init__(self, policy: FetchPolicy, rules: ImageRules, uploads: UploadService) -> None:
        self.policy = policy
        self.rules = rules
        self.uploads = uploads

    def load(self, value: str, param: str, key: KeyInfo, pixels: bool = False, may_wait: bool = True) -> LoadedImage:
        """Accepts an http(s) URL, a data: URI, raw base64, or an upload URL this server issued to `key`.

        With `may_wait=False` it raises WouldBlock, before any fetch, for work that may take long: a URL to
        fetch, an image over UNWAITED_IMAGE_BYTES, pixels to decode.
        """
        if not may_wait and (pixels or len(value) > UNWAITED_IMAGE_BYTES * 4 // 3 + 1024):
            raise WouldBlock(f"{param}: a large image or one to decode in full")
        storage_key = None
        data = decode_inline_image(value, param=param)
        if data is None:
            upload = self.uploads.read_issued(key, value.strip(), param, None if may_wait else UNWAITED_IMAGE_BYTES)
            if upload is not None:
                data, storage_key = upload.data, upload.storage_key
        if data is None:
            if not may_wait:
                raise WouldBlock(f"{param}: a URL to fetch")
            data = fetch_url(value.strip(), self.policy, param=param).data
        examine = decode_image if pixels else check_image
        return LoadedImage(data=data, image=examine(data, self.rules, param=param), storage_key=storage_key)
