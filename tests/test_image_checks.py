"""Checking user-supplied images: formats, damage, sizes, orientation, transparency, inline data."""

from __future__ import annotations

import base64
import io
import random
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from reelserve.errors import InputError
from reelserve.media.image import (
    LIGHT_PIXELS,
    ImageFacts,
    ImageRules,
    check_facts,
    check_image,
    decode_image,
    decode_inline_image,
    intact_facts,
)
from tests.support.timing import collector_paused

RULES = ImageRules()
GREY = (128, 128, 128)


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def solid(
    width: int, height: int, image_format: str = "PNG", color: object = GREY, mode: str = "RGB"
) -> bytes:
    return encode(Image.new(mode, (width, height), color), image_format)  # type: ignore[arg-type]


def noise(width: int, height: int, image_format: str) -> bytes:
    pixels = np.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return encode(Image.fromarray(pixels), image_format)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height: enough for any check that reads the header."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def refusal(data: bytes, rules: ImageRules = RULES) -> str:
    """decode_image's refusal, after checking that check_image (what submit runs) refuses it the same way."""
    with pytest.raises(InputError) as checked:
        check_image(data, rules, param="image")
    with pytest.raises(InputError) as raised:
        decode_image(data, rules, param="image")
    assert raised.value.param == checked.value.param == "image"
    assert checked.value.message.split(" (")[0] == raised.value.message.split(" (")[0]
    return raised.value.message


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_accepted_formats_decode_to_rgb(image_format: str) -> None:
    image = decode_image(solid(640, 360, image_format, (200, 40, 40)), RULES, param="image")
    assert (image.mode, image.size) == ("RGB", (640, 360))
    assert all(abs(a - b) <= 8 for a, b in zip(image.getpixel((320, 180)), (200, 40, 40), strict=True))


@pytest.mark.parametrize(
    ("image_format", "name"),
    [("GIF", "a GIF image"), ("BMP", "a BMP image"), ("TIFF", "a TIFF image"), ("ICO", "an ICO icon")],
)
def test_other_image_formats_are_refused_by_name(image_format: str, name: str) -> None:
    assert refusal(solid(400, 400, image_format)) == f"image is {name}; use JPEG, PNG or WebP"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "image is empty"),
        (random.Random(3).randbytes(4000), "image is not an image this server reads; use JPEG, PNG or WebP"),
        (
            b"<!DOCTYPE html><html><body>Not found</body></html>",
            "image is an HTML page; use JPEG, PNG or WebP",
        ),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "image is an SVG image"),
        (b"%PDF-1.7\n...", "image is a PDF document"),
        (b"\x00\x00\x00\x1cftypisom" + bytes(64), "image is an MP4 or QuickTime video"),
        (b"\x00\x00\x00\x1cftypheic" + bytes(64), "image is a HEIC/HEIF image"),
        (b"\x00\x00\x00\x1cftypavif" + bytes(64), "image is an AVIF image"),
    ],
)
def test_non_images_are_refused_saying_what_they_are(data: bytes, message: str) -> None:
    assert refusal(data).startswith(message)


@pytest.mark.parametrize(("image_format", "name"), [("JPEG", "JPEG"), ("PNG", "PNG"), ("WEBP", "WebP")])
def test_truncated_images_are_refused(image_format: str, name: str) -> None:
    whole = noise(600, 400, image_format)
    assert refusal(whole[: len(whole) // 2]).startswith(
        f"image is a {name} image that is truncated or corrupt"
    )
    assert refusal(whole[:40]).startswith(f"image is a {name} image that is truncated or corrupt")


def test_png_with_a_damaged_header_is_refused_as_corrupt() -> None:
    whole = bytearray(solid(400, 400, "PNG"))
    whole[20] ^= 0xFF  # inside IHDR: its CRC no longer matches
    assert refusal(bytes(whole)) == "image is a PNG image that is truncated or corrupt"


def test_png_with_corrupt_pixel_data_is_refused() -> None:
    whole = noise(400, 400, "PNG")
    start = whole.index(b"IDAT") + 4 + 100
    damaged = whole[:start] + bytes(200) + whole[start + 200 :]
    assert "truncated or corrupt" in refusal(damaged)


def test_too_small_image_is_refused_with_its_size() -> None:
    assert refusal(solid(200, 150)) == "image is 200x150; each side must be at least 300 px"


def test_too_large_file_is_refused_before_decoding() -> None:
    message = refusal(noise(600, 400, "PNG"), ImageRules(max_bytes=100_000))
    assert message.startswith("image is 7") and message.endswith("kB; the limit is 100 kB")


@pytest.mark.parametrize(("width", "height", "shown"), [(900, 300, "3:1"), (300, 900, "1:3")])
def test_aspect_ratio_out_of_range_is_refused(width: int, height: int, shown: str) -> None:
    assert refusal(solid(width, height)) == (
        f"image is {width}x{height}, an aspect ratio of {shown}; it must be between 1:2.5 and 2.5:1"
    )


@pytest.mark.parametrize(("width", "height"), [(750, 300), (300, 750)])
def test_aspect_ratio_at_the_limit_is_accepted(width: int, height: int) -> None:
    assert decode_image(solid(width, height), RULES, param="image").size == (width, height)


def test_decompression_bomb_is_refused_from_the_header() -> None:
    image = png_declaring(50_000, 50_000)
    with collector_paused():
        started = time.monotonic()
        message = refusal(image)
        assert time.monotonic() - started < 1
    assert message == "image declares more pixels than this server decodes (at most 40 megapixels)"


def test_image_over_the_pixel_cap_is_refused_before_decoding() -> None:
    image = png_declaring(8000, 6000)
    with collector_paused():
        started = time.monotonic()
        message = refusal(image)
        assert time.monotonic() - started < 1
    assert message == "image is 8000x6000 (48 megapixels); this server decodes at most 40 megapixels"


def _orientation_test_image() -> Image.Image:
    """400 wide, 600 tall, grey, with a red square in its top-left corner."""
    image = Image.new("RGB", (400, 600), GREY)
    image.paste((255, 0, 0), (0, 0, 100, 100))
    return image


def _with_orientation(image: Image.Image, image_format: str, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, image_format, exif=exif.tobytes())


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_exif_orientation_is_applied(image_format: str) -> None:
    # Orientation 6: the stored image must be turned 90 degrees clockwise to be shown upright,
    # which carries its top-left corner to the top-right.
    upright = decode_image(
        _with_orientation(_orientation_test_image(), image_format, 6), RULES, param="image"
    )
    assert upright.size == (600, 400)
    red, green, blue = upright.getpixel((550, 50))  # type: ignore[misc]
    assert red > 200 and green < 60 and blue < 60
    assert all(abs(channel - 128) < 12 for channel in upright.getpixel((50, 50)))  # type: ignore[union-attr]


def test_size_checks_use_the_upright_size() -> None:
    rotated = _with_orientation(Image.new("RGB", (200, 400), GREY), "JPEG", 6)
    assert refusal(rotated) == "image is 400x200; each side must be at least 300 px"


def test_transparency_is_flattened_onto_white() -> None:
    rgba = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    rgba.paste((255, 0, 0, 128), (0, 0, 200, 400))
    image = decode_image(encode(rgba, "PNG"), RULES, param="image")
    assert image.mode == "RGB"
    assert image.getpixel((300, 200)) == (255, 255, 255)
    red, green, blue = image.getpixel((100, 200))  # type: ignore[misc]
    assert red == 255 and 120 <= green <= 135 and green == blue


def test_palette_transparency_is_flattened_onto_white() -> None:
    palette_image = Image.new("P", (400, 400), 0)
    palette_image.putpalette([0, 0, 0, 0, 0, 255])
    palette_image.paste(1, (0, 0, 200, 400))
    image = decode_image(encode(palette_image, "PNG", transparency=0), RULES, param="image")
    assert image.getpixel((300, 200)) == (255, 255, 255)
    assert image.getpixel((100, 200)) == (0, 0, 255)


def test_sixteen_bit_greyscale_keeps_its_tones() -> None:
    samples = np.full((400, 400), 32768, dtype=np.uint16)
    data = encode(Image.fromarray(samples), "PNG")
    assert decode_image(data, RULES, param="image").getpixel((10, 10)) == (128, 128, 128)


def test_cmyk_jpeg_becomes_rgb() -> None:
    image = decode_image(solid(400, 400, "JPEG", (0, 255, 255, 0), mode="CMYK"), RULES, param="image")
    red, green, blue = image.getpixel((200, 200))  # type: ignore[misc]
    assert image.mode == "RGB" and red > 200 and green < 60 and blue < 60


def camera_multi_picture_jpeg(width: int = 400, height: int = 400) -> bytes:
    """What many phone cameras write (MPO): a JPEG with a second picture after it; Pillow opens it as "MPO"."""
    frames = [Image.new("RGB", (width, height), (10, 200, 10)), Image.new("RGB", (width, height), (0, 0, 0))]
    return encode(frames[0], "MPO", save_all=True, append_images=frames[1:])


def test_camera_multi_picture_jpeg_is_read_as_jpeg() -> None:
    data = camera_multi_picture_jpeg()
    green = decode_image(data, RULES, param="image").getpixel((200, 200))
    assert all(abs(a - b) <= 8 for a, b in zip(green, (10, 200, 10), strict=True))  # type: ignore[arg-type]
    # The submit's check, which opened it again by the name Pillow gave it, raised KeyError('MPO') here.
    assert check_image(data, RULES, param="image").size == (400, 400)
    assert check_image(data, ImageRules(formats=frozenset({"JPEG"})), param="image").size == (400, 400)
    with pytest.raises(InputError, match="image is 400x400; each side must be at least 500 px"):
        check_image(data, ImageRules(min_side=500), param="image")
    with pytest.raises(InputError, match="truncated or corrupt"):
        check_image(data[: len(data) // 3], RULES, param="image")


def test_content_decides_not_the_label() -> None:
    png = solid(400, 400, "PNG")
    labelled_jpeg = decode_inline_image(
        "data:image/jpeg;base64," + base64.b64encode(png).decode(), param="image"
    )
    assert labelled_jpeg == png
    assert decode_image(labelled_jpeg, RULES, param="image").size == (400, 400)
    gif_labelled_png = decode_inline_image(
        "data:image/png;base64," + base64.b64encode(solid(400, 400, "GIF")).decode(), param="image"
    )
    assert gif_labelled_png is not None
    assert refusal(gif_labelled_png).startswith("image is a GIF image")


def test_allowed_formats_follow_the_rules() -> None:
    png_only = ImageRules(formats=frozenset({"PNG"}))
    assert refusal(solid(400, 400, "WEBP"), png_only) == "image is a WebP image; use PNG"
    assert decode_image(solid(400, 400, "GIF"), ImageRules(formats=frozenset({"GIF", "PNG"})), param="image")


# --- inline images ------------------------------------------------------------------------------

PNG = solid(320, 320, "PNG")


def test_data_uri_is_decoded() -> None:
    assert (
        decode_inline_image("data:image/png;base64," + base64.b64encode(PNG).decode(), param="image") == PNG
    )


def test_percent_encoded_data_uri_is_decoded() -> None:
    assert decode_inline_image("data:application/octet-stream,%89PNG%0D%0A", param="image") == b"\x89PNG\r\n"


def test_raw_base64_with_line_breaks_is_decoded() -> None:
    wrapped = base64.encodebytes(PNG).decode()  # 76-character lines, as many tools write it
    assert "\n" in wrapped
    assert decode_inline_image(wrapped, param="image") == PNG


@pytest.mark.parametrize("space", ["\r\n", "\t", " ", "\u00a0", "\u2003", "\u3000", "\x1c", "\u2028"])
def test_any_unicode_whitespace_inside_base64_is_ignored(space: str) -> None:
    encoded = base64.b64encode(PNG).decode()
    spaced = space + space.join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + space
    assert decode_inline_image(spaced, param="image") == PNG
    assert decode_inline_image(f"data:image/png;base64,{spaced}", param="image") == PNG


def test_urlsafe_base64_without_padding_is_decoded() -> None:
    data = PNG + b"\xfb\xff"  # bytes that need '-' and '_' in the URL-safe alphabet
    urlsafe = base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert decode_inline_image(urlsafe, param="image") == data


@pytest.mark.parametrize(
    "url", ["https://example.com/cat.png", "HTTP://example.com/cat.png", "  http://x/y "]
)
def test_http_urls_are_left_for_fetching(url: str) -> None:
    assert decode_inline_image(url, param="image") is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "image is empty"),
        ("   ", "image is empty"),
        ("ftp://example.com/cat.png", "image must be an http(s) URL, a data: URI or base64 image data"),
        ("file:///etc/passwd", "'file' is not accepted"),
        ("cat.png", "is not valid base64 (it contains '.')"),
        ("iVBORw0KGgo$AAAA", "is not valid base64 (it contains '$')"),
        ("iVBORw0K=Ggo", "'=' padding is only allowed at the end"),
        ("iVBORw0KG", "its length is impossible for base64"),
        ("iVBO+Rw0_KGgo", "mixes the standard and URL-safe base64 alphabets"),
        ("data:image/png;base64", "malformed data: URI (no ',' before the data)"),
        ("data:image/png;base64,", "image is a data: URI whose data is empty"),
        ("data:image/png;base64,@@@@", "image is a data: URI whose data is not valid base64"),
    ],
)
def test_malformed_inline_data_is_refused(value: str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        decode_inline_image(value, param="image")
    assert message in raised.value.message
    assert raised.value.param == "image"


def test_inline_data_over_the_cap_is_refused_before_decoding() -> None:
    too_long = "A" * 4_000_004
    with pytest.raises(InputError, match=r"image data is larger than 3 MB"):
        decode_inline_image(too_long, param="image", max_bytes=3_000_000)
    with pytest.raises(InputError, match=r"image data is larger than 3 MB"):
        decode_inline_image("data:image/png;base64," + too_long, param="image", max_bytes=3_000_000)
    assert len(decode_inline_image("A" * 4_000_000, param="image", max_bytes=3_000_000) or b"") == 3_000_000


FACT_CASES = {
    "intact": solid(640, 480),
    "too small": solid(200, 200),
    "too wide": solid(1000, 300, "JPEG"),
    "too many pixels": png_declaring(9000, 6000),
    "small once upright": _with_orientation(Image.new("RGB", (200, 400), GREY), "JPEG", 6),
    "WebP": solid(400, 300, "WEBP"),
    "over the byte limit": noise(400, 400, "PNG"),
    "camera multi-picture JPEG": camera_multi_picture_jpeg(),
}
FACT_RULES = {
    "default": RULES,
    "few bytes": ImageRules(max_bytes=100_000),
    "PNG only": ImageRules(formats=frozenset({"PNG"})),
    "square only": ImageRules(min_aspect=1.0, max_aspect=1.0),
}


@pytest.mark.parametrize("rules_name", list(FACT_RULES))
@pytest.mark.parametrize("case", list(FACT_CASES))
def test_facts_found_on_arrival_are_judged_as_the_bytes_are(case: str, rules_name: str) -> None:
    """What an upload's check keeps (intact_facts) refuses, under any rules, exactly what check_image refuses of
    the bytes, in the same words."""
    data, rules = FACT_CASES[case], FACT_RULES[rules_name]
    facts = intact_facts(data, most_pixels_decoded=LIGHT_PIXELS)
    assert facts is not None
    try:
        check_image(data, rules, param="image")
    except InputError as by_bytes:
        with pytest.raises(InputError) as by_facts:
            check_facts(facts, rules, param="image")
        assert (by_facts.value.message, by_facts.value.param) == (by_bytes.message, by_bytes.param)
    else:
        check_facts(facts, rules, param="image")


def test_facts_are_kept_only_for_an_image_found_intact_at_a_bounded_cost() -> None:
    assert intact_facts(solid(640, 480), most_pixels_decoded=LIGHT_PIXELS) == ImageFacts(
        "PNG", 640, 480, len(solid(640, 480))
    )
    for damaged in (solid(640, 480)[:-100], noise(320, 320, "JPEG")[:-500], b"<html></html>", b""):
        assert intact_facts(damaged, most_pixels_decoded=LIGHT_PIXELS) is None
    # A WebP is checked by decoding it: one larger than the bound is left to the submit's check, elsewhere.
    assert intact_facts(solid(400, 300, "WEBP"), most_pixels_decoded=400 * 300 - 1) is None
    assert intact_facts(solid(400, 300, "WEBP"), most_pixels_decoded=400 * 300) is not None
