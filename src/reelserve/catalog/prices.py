"""What each job costs: a price per second of output video for each route (and for each engine of a
route that binds several), one for voice creation, and a surcharge per second for a video whose characters
speak in custom voices (voice_list).

Kling prices sound on top of the silent video and voice control on top of that, per second, the same
amount on every tier ($0.028 a second each for v3.0 Std and Pro). reelserve's route prices are the silent
ones, so a request with voice_list adds one voice surcharge per second of video (the speech track is its
sound). Routes carry their price (`price_per_second` in the catalog); `[prices]` in reelserve.toml overrides it:

    [prices]
    "kwaivgi/kling-v2.5-turbo-std/image-to-video" = 0.05   # USD per second of video
    voice_creation = 0.20                                   # USD per custom voice
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from reelserve.catalog.route_tables import usd

DEFAULT_VOICE_CREATION_USD = Decimal("0.20")
DEFAULT_VOICE_PER_SECOND_USD = Decimal("0.028")
VOICE_CREATION = "voice_creation"
VOICE_PER_SECOND = "voice_per_second"
MICROS_PER_USD = 1_000_000


class PriceList:
    def __init__(
        self,
        per_second_usd: dict[str, Decimal],
        voice_creation_usd: Decimal,
        per_binding_usd: Mapping[tuple[str, str], Decimal] | None = None,
        voice_per_second_usd: Decimal = DEFAULT_VOICE_PER_SECOND_USD,
    ) -> None:
        self.per_second_usd = per_second_usd
        """Each served route's price: its first engine's."""
        self.voice_creation_usd = voice_creation_usd
        self.per_binding_usd = dict(per_binding_usd or {})
        """(route id, engine entry) -> that engine's price, for routes that bind several."""
        self.voice_per_second_usd = voice_per_second_usd

    @classmethod
    def from_config(
        cls,
        route_prices: Mapping[str, Decimal],
        table: dict[str, Any] | None,
        binding_prices: Mapping[tuple[str, str], Decimal | None] | None = None,
    ) -> PriceList:
        """`route_prices` from the catalog, `[prices]` over them; a binding without a price of its own
        costs what its route costs."""
        if table is not None and not isinstance(table, dict):
            raise ValueError("[prices] must be a table of route ids and amounts")
        per_second = dict(route_prices)
        voice = DEFAULT_VOICE_CREATION_USD
        speaking = DEFAULT_VOICE_PER_SECOND_USD
        for name, value in (table or {}).items():
            amount = usd(f"[prices]: {name}", value)
            if name == VOICE_CREATION:
                voice = amount
            elif name == VOICE_PER_SECOND:
                speaking = amount
            elif name in per_second:
                per_second[name] = amount
            else:
                raise ValueError(f"[prices]: unknown route {name!r}")
        per_binding = {
            (route_id, label): per_second[route_id] if price is None else price
            for (route_id, label), price in (binding_prices or {}).items()
        }
        first_binding: dict[str, Decimal] = {}
        for (route_id, _label), price in per_binding.items():
            first_binding.setdefault(route_id, price)
        return cls({**per_second, **first_binding}, voice, per_binding, speaking)

    def unit_price_usd(self, route_id: str, with_voices: bool = False, label: str | None = None) -> Decimal:
        """USD per second of video on this route (on one of its engines, where `label` names it); with
        voice_list, the voice surcharge added."""
        base = self.per_second_usd[route_id]
        if label is not None:
            base = self.per_binding_usd.get((route_id, label), base)
        return base + (self.voice_per_second_usd if with_voices else Decimal(0))

    def video_micros(self, route_id: str, seconds: int, with_voices: bool = False, label: str | None = None) -> int:
        return _micros(self.unit_price_usd(route_id, with_voices, label) * seconds)

    def voice_creation_micros(self) -> int:
        return _micros(self.voice_creation_usd)


def _micros(usd_amount: Decimal) -> int:
    return int((usd_amount * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_UP))
