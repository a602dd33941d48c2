"""Byte counts as people read them in error messages."""

from __future__ import annotations


def format_bytes(size: int) -> str:
    """12_345_678 -> '12.3 MB'; sizes under a megabyte in kB or bytes (decimal units)."""
    for unit, scale in (("GB", 1_000_000_000), ("MB", 1_000_000), ("kB", 1_000)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"
