"""Naming what a byte string is from its first bytes alone, without parsing it."""

from __future__ import annotations

import codecs

_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x00\x00\x01\x00", "an ICO icon"),
    (b"8BPS", "a Photoshop (PSD) file"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"\xffO\xffQ", "a JPEG 2000 image"),
    (b"\x00\x00\x00\x0cJXL ", "a JPEG XL image"),
    (b"\xff\x0a", "a JPEG XL image"),
    (b"%PDF", "a PDF document"),
    (b"\x1aE\xdf\xa3", "a WebM or Matroska video"),
    (b"ID3", "an MP3 audio file"),
    (b"OggS", "an Ogg media file"),
    (b"fLaC", "a FLAC audio file"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"BM", "a BMP image"),
)
_RIFF_KINDS = {b"WEBP": "a WebP image", b"WAVE": "a WAV audio file", b"AVI ": "an AVI video"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


# Leading atoms of QuickTime files written without an `ftyp` box.
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def media_kinds(data: bytes) -> frozenset[str]:
    """Which of 'image' (JPEG, PNG, WebP), 'video' (MP4, MOV) and 'audio' (MP3, AAC, WAV, M4A) the first bytes of
    `data` say it may be; empty for anything else. MP4 and M4A share one container, hence both."""
    if data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")):
        return frozenset({"image"})
    if data[:4] == b"RIFF":
        return frozenset({"image"} if data[8:12] == b"WEBP" else {"audio"} if data[8:12] == b"WAVE" else ())
    if data[4:8] == b"ftyp":
        still = data[8:12] in _HEIF_BRANDS or data[8:12] in _AVIF_BRANDS
        return frozenset() if still else frozenset({"video", "audio"})
    if data[4:8] in _QUICKTIME_ATOMS:
        return frozenset({"video"})
    # An ID3 tag, or the frame sync of MPEG audio and ADTS AAC (eleven set bits; a JPEG's 0xFFD8 has ten).
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return frozenset({"audio"})
    return frozenset()


def describe_content(data: bytes) -> str | None:
    """'a GIF image', 'an HTML page', ... for recognisable content; None when unknown."""
    if data[:4] == b"RIFF" and data[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[data[8:12]]
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _HEIF_BRANDS:
            return "a HEIC/HEIF image"
        if brand in _AVIF_BRANDS:
            return "an AVIF image"
        return "an MP4 or QuickTime video"
    for prefix, description in _PREFIXES:
        if data.startswith(prefix):
            return description
    return _describe_text(data[:1024])


def _describe_text(head: bytes) -> str | None:
    try:
        # Incremental: a character cut in two at the end of `head` is not an error.
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    text = text.lstrip("\ufeff \t\r\n").lower()
    if text.startswith("<svg") or (text.startswith("<?xml") and "<svg" in text):
        return "an SVG image"
    if text.startswith(("<!doctype html", "<html")):
        return "an HTML page"
    if text.startswith(("{", "[")):
        return "JSON text"
    if text and all(char.isprintable() or char in "\t\r\n" for char in text):
        return "text"
    return None
