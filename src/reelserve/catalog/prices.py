"""What each job costs: a price per second of output video for each route, and one for voice creation.

Defaults live in the catalog; `[prices]` in reelserve.toml overrides them:

    [prices]
    "kwaivgi/kling-v2.5-turbo-std/image-to-video" = 0.05   # USD per second of video
    voice_creation = 0.20                                   # USD per custom voice
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from reelserve.catalog.routes import ROUTES

DEFAULT_VOICE_CREATION_USD = Decimal("0.20")
VOICE_CREATION = "voice_creation"
MICROS_PER_USD = 1_000_000


class PriceList:
    def __init__(self, per_second_usd: dict[str, Decimal], voice_creation_usd: Decimal) -> None:
        self.per_second_usd = per_second_usd
        self.voice_creation_usd = voice_creation_usd

    @classmethod
    def from_config(cls, table: dict[str, Any] | None) -> PriceList:
        per_second = {route_id: route.price_per_second for route_id, route in ROUTES.items()}
        voice = DEFAULT_VOICE_CREATION_USD
        for name, value in (table or {}).items():
            amount = _amount(name, value)
            if name == VOICE_CREATION:
                voice = amount
            elif name in ROUTES:
                per_second[name] = amount
            else:
                raise ValueError(f"[prices]: unknown route {name!r}")
        return cls(per_second, voice)

    def video_micros(self, route_id: str, seconds: int) -> int:
        return _micros(self.per_second_usd[route_id] * seconds)

    def voice_creation_micros(self) -> int:
        return _micros(self.voice_creation_usd)


def _amount(name: str, value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"[prices]: {name} = {value!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"[prices]: {name} must be zero or more (got {value})")
    return amount


def _micros(usd: Decimal) -> int:
    return int((usd * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_UP))
