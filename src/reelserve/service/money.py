"""USD amounts as integer micro-dollars, and their display."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MICROS_PER_USD = 1_000_000


def usd_to_micros(amount: Decimal | str | float | int) -> int:
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not an amount of USD") from None
    if not value.is_finite():
        raise ValueError(f"{amount!r} is not an amount of USD")
    return int((value * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def micros_to_usd(micros: int) -> float:
    return round(micros / MICROS_PER_USD, 6)


def format_usd(micros: int) -> str:
    """$0.21, $1.50, $0.000001: at least cents, never more digits than there are."""
    sign = "-" if micros < 0 else ""
    whole, fraction = f"{abs(Decimal(micros)) / MICROS_PER_USD:.6f}".split(".")
    return f"{sign}${whole}.{fraction.rstrip('0').ljust(2, '0')}"
