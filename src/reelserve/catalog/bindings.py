"""Which engine serves each route: the motion engine unless reelserve.toml binds another."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelserve.catalog.prices import PriceList
from reelserve.catalog.routes import ROUTES, ModelRoute
from reelserve.engines.base import Engine
from reelserve.engines.registry import build_engine

DEFAULT_ENGINE = "motion"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class RouteBinding:
    route: ModelRoute
    engine_name: str
    engine: Engine


class RouteEngines:
    """The engine bound to each route; routes with identical bindings share one engine."""

    def __init__(self, bindings: dict[str, RouteBinding]) -> None:
        self._bindings = bindings

    def binding(self, route_id: str) -> RouteBinding:
        return self._bindings[route_id]

    def engine_for(self, route_id: str) -> Engine:
        return self._bindings[route_id].engine

    def all(self) -> list[RouteBinding]:
        return list(self._bindings.values())

    def distinct_engines(self) -> list[Engine]:
        unique: dict[int, Engine] = {}
        for binding in self._bindings.values():
            unique.setdefault(id(binding.engine), binding.engine)
        return list(unique.values())

    def start(self) -> None:
        for engine in self.distinct_engines():
            engine.start()

    def close(self) -> None:
        for engine in self.distinct_engines():
            engine.close()


def load_route_engines(config_path: Path | None) -> RouteEngines:
    tables = _route_tables(config_path, read_config(config_path))
    base_dir = config_path.parent.resolve() if config_path else Path.cwd()
    built: dict[str, Engine] = {}
    bindings: dict[str, RouteBinding] = {}
    for route_id, route in ROUTES.items():
        table = dict(tables.get(route_id, {}))
        engine_name = str(table.pop("engine", DEFAULT_ENGINE))
        identity = repr((engine_name, sorted(table.items(), key=lambda item: item[0])))
        if identity not in built:
            try:
                built[identity] = build_engine(engine_name, table, base_dir)
            except ValueError as exc:
                raise ConfigError(f"{config_path}: route {route_id!r}: {exc}") from exc
        bindings[route_id] = RouteBinding(route=route, engine_name=engine_name, engine=built[identity])
    return RouteEngines(bindings)


def read_config(config_path: Path | None) -> dict[str, Any]:
    if config_path is None:
        return {}
    try:
        return tomllib.loads(config_path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"configuration file {config_path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path} is not valid TOML: {exc}") from None


def load_prices(config_path: Path | None) -> PriceList:
    try:
        return PriceList.from_config(read_config(config_path).get("prices"))
    except ValueError as exc:
        raise ConfigError(f"{config_path}: {exc}") from None


def _route_tables(config_path: Path | None, document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    routes = document.get("routes", {})
    if not isinstance(routes, dict):
        raise ConfigError(f"{config_path}: [routes] must be a table of route tables")
    unknown = sorted(set(routes) - set(ROUTES))
    if unknown:
        raise ConfigError(
            f"{config_path}: unknown route(s) {', '.join(unknown)}; known routes: {', '.join(ROUTES)}"
        )
    return routes
