"""USD amounts as integer micro-dollars, and their display."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from reelserve.store.accounts import MAX_BALANCE_MICROS

MICROS_PER_USD = 1_000_000


def usd_to_micros(amount: Decimal | str | float | int) -> int:
    """Whole micro-dollars; ValueError for what is not a finite amount within the 64-bit range."""
    text = str(amount) if not isinstance(amount, str) else amount.strip()
    shown = text if len(text) <= 40 else text[:37] + "..."
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{shown!r} is not an amount of USD") from None
    if not value.is_finite():
        raise ValueError(f"{shown!r} is not an amount of USD")
    # Checked before any arithmetic, which would overflow Decimal's exponent range on '1E+1000000'.
    if value and value.adjusted() > MAX_USD_DIGITS:
        raise ValueError(f"{shown} is {MORE_THAN_AN_ACCOUNT_HOLDS}")
    micros = int((value * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if abs(micros) > MAX_BALANCE_MICROS:
        raise ValueError(f"{shown} is {MORE_THAN_AN_ACCOUNT_HOLDS}")
    return micros


MAX_USD_DIGITS = len(str(MAX_BALANCE_MICROS // MICROS_PER_USD))


def micros_to_usd(micros: int) -> float:
    return round(micros / MICROS_PER_USD, 6)


def format_usd(micros: int) -> str:
    """$0.21, $1.50, $0.000001: at least cents, never more digits than there are."""
    sign = "-" if micros < 0 else ""
    whole, fraction = f"{abs(Decimal(micros)) / MICROS_PER_USD:.6f}".split(".")
    return f"{sign}${whole}.{fraction.rstrip('0').ljust(2, '0')}"


MORE_THAN_AN_ACCOUNT_HOLDS = f"more than the largest amount an account can hold ({format_usd(MAX_BALANCE_MICROS)})"
