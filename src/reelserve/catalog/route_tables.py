"""Reading route tables: the built-in catalog (builtin_routes.toml) with reelserve.toml's `[routes]` on top.

A route table holds the catalog's keys (title, description, schema, features, price_per_second, limits,
params) and its engine binding: either `engine = "NAME"` with the engine's options beside it, or
`engines = ["A", "B"]` (tried in that order, see catalog/spill.py) with `spill_after_seconds` and one
sub-table per entry, `[routes."R".A]`, holding that engine's options, its `engine` (the entry's name
when left out) and its own `price_per_second`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

CATALOG_KEYS = frozenset(
    {"title", "description", "schema", "features", "price_per_second", "limits", "params", "aliases"}
)
BINDING_KEYS = frozenset({"engine", "engines", "spill_after_seconds"})
ROUTE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)+")
ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*(/[A-Za-z0-9][A-Za-z0-9._:-]*)*")
RESERVED_FIRST_SEGMENTS = frozenset(
    {"predictions", "media", "model", "models", "balance", "account", "voices", "webhook", "admin"}
)
VOICE_ROUTE = "kwaivgi/kling_custom_voice"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class BindingSpec:
    label: str
    """The entry's name in `engines` (the engine's name for `engine = ...`)."""
    engine: str
    options: dict[str, Any]
    price_per_second: Decimal | None
    """This engine's price where it differs from the route's."""


@dataclass(frozen=True)
class RouteSpec:
    id: str
    title: str
    description: str
    schema: str
    features: frozenset[str]
    price_per_second: Decimal
    limits: dict[str, Any]
    params: dict[str, Any]
    bindings: tuple[BindingSpec, ...]
    """In the order they are tried; empty for a built-in route nothing binds (it is not served)."""
    spill_after_seconds: float | None
    aliases: tuple[str, ...] = ()
    """Other names the wire dialects accept for this route (OpenAI's `model`, GPTProto's model slug)."""


def route_specs(builtin: dict[str, Any], configured: dict[str, Any], where: str) -> list[RouteSpec]:
    """Every route of the built-in catalog and of reelserve.toml, the built-in ones first."""
    if not isinstance(configured, dict):
        raise ConfigError(f"{where}: [routes] must be a table of route tables")
    specs = []
    for route_id in [*builtin, *(name for name in configured if name not in builtin)]:
        given = configured.get(route_id)
        if given is not None and not isinstance(given, dict):
            raise ConfigError(f"{where}: [routes.{route_id!r}] must be a table")
        table = _merged(builtin.get(route_id), given)
        try:
            specs.append(_spec(route_id, table, is_builtin=route_id in builtin))
        except ValueError as exc:
            raise ConfigError(f"{where}: route {route_id!r}: {exc}") from None
    return specs


def _merged(builtin: dict[str, Any] | None, configured: dict[str, Any] | None) -> dict[str, Any]:
    """The operator's keys over the built-in ones; a binding in reelserve.toml replaces the built-in one
    whole, and limits and params merge parameter by parameter."""
    if builtin is None:
        return dict(configured or {})
    if configured is None:
        return dict(builtin)
    merged = dict(builtin)
    if BINDING_KEYS & configured.keys():
        merged = {key: value for key, value in builtin.items() if key in CATALOG_KEYS}
    for key, value in configured.items():
        if key in ("limits", "params") and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _spec(route_id: str, table: dict[str, Any], is_builtin: bool) -> RouteSpec:
    _check_route_id(route_id)
    schema = table.get("schema")
    if not isinstance(schema, str):
        raise ValueError('schema: a route needs a parameter family, e.g. schema = "kling-i2v"')
    if "price_per_second" not in table:
        raise ValueError("price_per_second: a route needs a price in USD per second of video")
    features = table.get("features", [])
    if not isinstance(features, list) or not all(isinstance(item, str) for item in features):
        raise ValueError('features: must be a list of names, e.g. ["end_image"]')
    bindings, spill_after = _bindings(table)
    if not bindings and not is_builtin:
        raise ValueError('no engine bound: add engine = "motion" (or "diffusers", "upstream")')
    return RouteSpec(
        id=route_id,
        title=_text(table, "title", route_id),
        description=_text(table, "description", ""),
        schema=schema,
        features=frozenset(features),
        price_per_second=usd("price_per_second", table["price_per_second"]),
        limits=_subtable(table, "limits"),
        params=_subtable(table, "params"),
        bindings=bindings,
        spill_after_seconds=spill_after,
        aliases=_aliases(table),
    )


def _bindings(table: dict[str, Any]) -> tuple[tuple[BindingSpec, ...], float | None]:
    rest = {key: value for key, value in table.items() if key not in CATALOG_KEYS | BINDING_KEYS}
    if "engine" in table and "engines" in table:
        raise ValueError("engine and engines: give one of them")
    if "engines" not in table:
        if "spill_after_seconds" in table:
            raise ValueError("spill_after_seconds: needs engines = [...] with two or more engines")
        if "engine" not in table:
            if rest:
                raise ValueError(f"{', '.join(sorted(rest))}: unknown key(s), and no engine to take them as options")
            return (), None
        engine = table["engine"]
        if not isinstance(engine, str):
            raise ValueError("engine: must be an engine's name")
        return (BindingSpec(engine, engine, rest, None),), None
    labels = table["engines"]
    if not isinstance(labels, list) or not labels or not all(isinstance(label, str) for label in labels):
        raise ValueError('engines: must be a list of names, e.g. ["diffusers", "upstream"]')
    if len(set(labels)) != len(labels):
        raise ValueError("engines: each entry may appear once")
    unknown = sorted(set(rest) - set(labels))
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: unknown key(s); engine options go in [routes.\"R\".ENTRY] tables")
    bindings = tuple(_entry(label, rest.get(label, {})) for label in labels)
    spill_after = table.get("spill_after_seconds")
    if spill_after is not None:
        if isinstance(spill_after, bool) or not isinstance(spill_after, int | float) or spill_after <= 0:
            raise ValueError("spill_after_seconds: must be a number of seconds above 0")
        if len(bindings) < 2:
            raise ValueError("spill_after_seconds: needs two or more engines to spill over to")
        spill_after = float(spill_after)
    return bindings, spill_after


def _entry(label: str, table: Any) -> BindingSpec:
    if not isinstance(table, dict):
        raise ValueError(f"{label}: must be a table of that engine's options")
    options = dict(table)
    engine = options.pop("engine", label)
    if not isinstance(engine, str):
        raise ValueError(f"{label}.engine: must be an engine's name")
    price = options.pop("price_per_second", None)
    return BindingSpec(label, engine, options, None if price is None else usd(f"{label}.price_per_second", price))


def usd(where: str, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{where}: {value!r} is not an amount in USD")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{where}: {value!r} is not an amount in USD") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{where}: must be zero or more (got {value})")
    return amount


def _check_route_id(route_id: str) -> None:
    if not ROUTE_ID.fullmatch(route_id) or len(route_id) > 200:
        raise ValueError("a route id is two or more path segments of letters, digits, '.', '_' and '-'")
    if route_id.split("/", 1)[0] in RESERVED_FIRST_SEGMENTS or route_id.startswith(VOICE_ROUTE):
        raise ValueError("that route id would shadow one of the server's own endpoints")


def _aliases(table: dict[str, Any]) -> tuple[str, ...]:
    value = table.get("aliases", [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError('aliases: must be a list of names, e.g. ["kwaivgi/kling-v2.5", "sora-2"]')
    for alias in value:
        if not ALIAS.fullmatch(alias) or len(alias) > 200:
            raise ValueError(
                f"aliases: {alias!r} is not a name: letters, digits, '.', '_', ':' and '-' in segments split by '/'"
            )
    return tuple(dict.fromkeys(value))


def _text(table: dict[str, Any], key: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{key}: must be a string")
    return value


def _subtable(table: dict[str, Any], key: str) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise ValueError(f"{key}: must be a table")
    return value
