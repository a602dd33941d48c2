"""The configured catalog: the routes this server serves, their parameters and prices, and the engines
bound to each (in the order they are tried), from the built-in catalog and reelserve.toml."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, replace
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

from reelserve.catalog.families import family_named
from reelserve.catalog.limits import apply_limits, wire_names
from reelserve.catalog.prices import PriceList
from reelserve.catalog.route_tables import ConfigError, RouteSpec, route_specs
from reelserve.catalog.routes import ModelRoute, params_model_name
from reelserve.engines.base import Engine
from reelserve.engines.registry import EngineContext, build_engine
from reelserve.speech.backends import SpeechBackend, build_backend
from reelserve.speech.options import SpeechOptions, parse_speech_options

__all__ = ["ConfigError", "RouteBinding", "RouteEngines", "RouteEntry", "load_route_engines"]

TOP_LEVEL_KEYS = frozenset({"routes", "prices"})
DEFAULT_MAX_RUN_SECONDS = 1800


@dataclass(frozen=True)
class RouteBinding:
    route: ModelRoute
    engine_name: str
    engine: Engine
    speech: SpeechBackend
    speech_options: SpeechOptions
    queue: str
    """The queue its jobs wait in; routes with the same binding share it, and a worker serves whole queues."""
    max_run_seconds: int = DEFAULT_MAX_RUN_SECONDS
    label: str = ""
    """The entry's name in the route's `engines` list (the engine's name for a single engine)."""
    price_per_second: Decimal | None = None
    """This engine's own price, where it has one (else the route's)."""


@dataclass(frozen=True)
class RouteEntry:
    route: ModelRoute
    bindings: tuple[RouteBinding, ...]
    spill_after_seconds: float | None


class RouteEngines:
    """The served routes and their engines; routes with identical bindings share one engine."""

    def __init__(self, entries: dict[str, RouteEntry], prices: PriceList | None = None) -> None:
        self._entries = entries
        self._by_path = {entry.route.path: entry.route for entry in entries.values()}
        self.prices = prices or PriceList.from_config(
            {route_id: entry.route.price_per_second for route_id, entry in entries.items()}, None
        )

    def route(self, route_id: str) -> ModelRoute | None:
        entry = self._entries.get(route_id)
        return entry.route if entry is not None else None

    def route_at(self, path: str) -> ModelRoute | None:
        """The route whose submit endpoint is `path` (/api/v3/{route id})."""
        return self._by_path.get(path)

    def routes(self) -> list[ModelRoute]:
        return [entry.route for entry in self._entries.values()]

    def routes_named(self, name: str) -> list[ModelRoute]:
        """The route with this id, else the routes that take it as an alias (one per kind at most)."""
        route = self.route(name)
        if route is not None:
            return [route]
        return [entry.route for entry in self._entries.values() if name in entry.route.aliases]

    def entry(self, route_id: str) -> RouteEntry:
        return self._entries[route_id]

    def binding(self, route_id: str, label: str | None = None) -> RouteBinding:
        """The route's engine of that label; without one, its first (the one a route of one engine has)."""
        bindings = self._entries[route_id].bindings
        if label is None:
            return bindings[0]
        for binding in bindings:
            if binding.label == label:
                return binding
        raise KeyError(f"route {route_id} has no engine {label!r}")

    def bindings(self, route_id: str) -> tuple[RouteBinding, ...]:
        """The route's engines in the order they are tried (catalog/spill.py chooses among them)."""
        return self._entries[route_id].bindings

    def engine_for(self, route_id: str, label: str | None = None) -> Engine:
        return self.binding(route_id, label).engine

    def speech_for(self, route_id: str, label: str | None = None) -> SpeechBackend:
        return self.binding(route_id, label).speech

    def queues(self, route_ids: list[str] | None = None) -> list[str]:
        """The queues of these routes' engines (every route's when None), each once."""
        chosen = self._entries.values() if route_ids is None else [self._entries[r] for r in route_ids]
        return list(dict.fromkeys(binding.queue for entry in chosen for binding in entry.bindings))

    def serving(self, queues: list[str]) -> RouteEngines:
        """The routes with an engine in one of `queues` (a worker restricted to some routes serves their queues
        whole, and so every route that shares them), for a process that starts only their engines."""
        kept = {
            route_id: entry for route_id, entry in self._entries.items()
            if any(binding.queue in queues for binding in entry.bindings)
        }
        return RouteEngines(kept, self.prices)

    def all(self) -> list[RouteBinding]:
        return [entry.bindings[0] for entry in self._entries.values()]

    def entries(self) -> list[RouteEntry]:
        return list(self._entries.values())

    def distinct_engines(self) -> list[Engine]:
        unique: dict[int, Engine] = {}
        for entry in self._entries.values():
            for binding in entry.bindings:
                unique.setdefault(id(binding.engine), binding.engine)
        return list(unique.values())

    def distinct_speech(self) -> list[SpeechBackend]:
        unique: dict[int, SpeechBackend] = {}
        for entry in self._entries.values():
            for binding in entry.bindings:
                unique.setdefault(id(binding.speech), binding.speech)
        return list(unique.values())

    def start(self) -> None:
        for engine in self.distinct_engines():
            engine.start()
        for speech in self.distinct_speech():
            speech.start()

    def close(self) -> None:
        for engine in self.distinct_engines():
            engine.close()
        for speech in self.distinct_speech():
            speech.close()


def load_route_engines(config_path: Path | None, context: EngineContext | None = None) -> RouteEngines:
    """The catalog of this server: the built-in routes with reelserve.toml over them. Raises ConfigError
    naming the file, the route and the key at fault."""
    document = read_config(config_path)
    where = str(config_path) if config_path is not None else "the built-in catalog"
    specs = [spec for spec in route_specs(builtin_routes(), document.get("routes", {}), where) if spec.bindings]
    base_dir = config_path.parent.resolve() if config_path else Path.cwd()
    context = replace(context, base_dir=base_dir) if context is not None else EngineContext(base_dir=base_dir)
    routes = _routes(specs, where)
    built: dict[str, Engine] = {}
    speech_built: dict[SpeechOptions, SpeechBackend] = {}
    entries: dict[str, RouteEntry] = {}
    for spec in specs:
        route = routes[spec.id]
        route_context = replace(
            context,
            param_wire_names=wire_names(route.params_model),
            route_params=frozenset(route.params_model.model_fields) - {"enable_sync_mode"},
        )
        bindings = []
        for binding in spec.bindings:
            options = dict(binding.options)
            try:
                beside = _beside_the_engine(options, base_dir)
            except ValueError as exc:
                entry = f"engine {binding.label!r}: " if len(spec.bindings) > 1 else ""
                raise ConfigError(f"{where}: route {spec.id!r}: {entry}{exc}") from exc
            if beside.speech not in speech_built:
                speech_built[beside.speech] = build_backend(beside.speech)
            per_route = (
                (sorted(route_context.param_wire_names.items()), sorted(route_context.route_params or ()))
                if binding.engine == "upstream" else ()
            )
            identity = repr((binding.engine, sorted(options.items()), per_route))
            if identity not in built:
                try:
                    built[identity] = build_engine(binding.engine, dict(options), route_context)
                except ValueError as exc:
                    entry = f"engine {binding.label!r}: " if len(spec.bindings) > 1 else ""
                    raise ConfigError(f"{where}: route {spec.id!r}: {entry}{exc}") from exc
            bindings.append(
                RouteBinding(
                    route, binding.engine, built[identity], speech=speech_built[beside.speech],
                    speech_options=beside.speech, queue=beside.queue or _queue_name(binding.engine, options),
                    max_run_seconds=beside.max_run_seconds, label=binding.label,
                    price_per_second=binding.price_per_second,
                )
            )
        entries[spec.id] = RouteEntry(route, tuple(bindings), spec.spill_after_seconds)
    try:
        prices = PriceList.from_config(
            {spec.id: spec.price_per_second for spec in specs},
            document.get("prices"),
            {(spec.id, binding.label): binding.price_per_second for spec in specs for binding in spec.bindings},
        )
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return RouteEngines(entries, prices)


def served_route_ids(config_path: Path | None) -> list[str]:
    """The ids of the routes a server with this configuration serves, without building any engine."""
    document = read_config(config_path)
    where = str(config_path) if config_path is not None else "the built-in catalog"
    return [spec.id for spec in route_specs(builtin_routes(), document.get("routes", {}), where) if spec.bindings]


def _routes(specs: list[RouteSpec], where: str) -> dict[str, ModelRoute]:
    """The served routes' parameter models, and for each gated feature the routes that have it."""
    available_on: dict[tuple[str, str], list[str]] = {}
    for spec in specs:
        for feature in spec.features:
            available_on.setdefault((spec.schema, feature), []).append(spec.id)
    routes: dict[str, ModelRoute] = {}
    names: set[str] = set()
    for spec in specs:
        try:
            family = family_named(spec.schema)
            name = params_model_name(spec.id)
            while name in names:
                name += "_"
            names.add(name)
            model = apply_limits(family.params_model(name, spec.features), spec.limits, spec.params, name)
        except ValueError as exc:
            raise ConfigError(f"{where}: route {spec.id!r}: {exc}") from None
        lacking = {feature: names_ for feature, names_ in family.gated_names.items() if feature not in spec.features}
        routes[spec.id] = ModelRoute(
            id=spec.id,
            title=spec.title,
            description=spec.description,
            kind=family.kind,
            family=family.name,
            features=spec.features,
            price_per_second=spec.price_per_second,
            params_model=model,
            gated_names=lacking,
            available_on={feature: tuple(available_on.get((family.name, feature), ())) for feature in lacking},
            aliases=spec.aliases,
        )
    _check_aliases(routes, where)
    return routes


def _check_aliases(routes: dict[str, ModelRoute], where: str) -> None:
    """An alias names no route of its own, and at most one route of each kind (image- or text-to-video)."""
    taken: dict[tuple[str, str], str] = {}
    for route in routes.values():
        for alias in route.aliases:
            if alias in routes and alias != route.id:
                raise ConfigError(f"{where}: route {route.id!r}: aliases: {alias!r} is the id of another route")
            other = taken.setdefault((alias, route.kind), route.id)
            if other != route.id:
                raise ConfigError(
                    f"{where}: route {route.id!r}: aliases: {alias!r} already names {other!r}, also {route.kind}"
                )


@dataclass(frozen=True)
class _BesideTheEngine:
    """A binding's keys that are not the engine's options: its speech stage, and its jobs' queue and limit."""

    speech: SpeechOptions
    queue: str | None
    max_run_seconds: int


def _beside_the_engine(options: dict[str, Any], base_dir: Path) -> _BesideTheEngine:
    """Takes them out of `options`, which keeps the engine's own."""
    speech = parse_speech_options(options.pop("speech", None), base_dir)
    queue = options.pop("queue", None)
    if queue is not None and (not isinstance(queue, str) or not queue.strip() or len(queue) > 200):
        raise ValueError("queue: must be a name of 1 to 200 characters")
    max_run = options.pop("max_run_seconds", DEFAULT_MAX_RUN_SECONDS)
    if isinstance(max_run, bool) or not isinstance(max_run, int) or not 1 <= max_run <= 7 * 24 * 3600:
        raise ValueError(f"max_run_seconds: must be a whole number of seconds from 1 to 604800 (got {max_run!r})")
    return _BesideTheEngine(speech, queue, max_run)


def _queue_name(engine_name: str, options: dict[str, Any]) -> str:
    """The engine's name where it takes no options; else the name and a digest of the options, so that
    differently configured bindings (two diffusers models) wait in different queues."""
    if not options:
        return engine_name
    digest = hashlib.sha1(repr(sorted(options.items(), key=str)).encode()).hexdigest()[:8]
    return f"{engine_name}-{digest}"


def builtin_routes() -> dict[str, Any]:
    text = files("reelserve.catalog").joinpath("builtin_routes.toml").read_text()
    return tomllib.loads(text)["routes"]


def read_config(config_path: Path | None) -> dict[str, Any]:
    if config_path is None:
        return {}
    try:
        document = tomllib.loads(config_path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"configuration file {config_path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path} is not valid TOML: {exc}") from None
    unknown = sorted(set(document) - TOP_LEVEL_KEYS)
    if unknown:
        raise ConfigError(
            f"{config_path}: unknown key(s) {', '.join(unknown)}; reelserve.toml holds [routes] and [prices]"
        )
    return document
