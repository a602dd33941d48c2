"""The `reelserve` command: serve the API, and manage API keys."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from reelserve.cli_generate import generate
from reelserve.cli_predictions import register as register_api_commands
from reelserve.config import Settings

if TYPE_CHECKING:
    from reelserve.service.keys import KeyService
    from reelserve.store.database import Database

app = typer.Typer(help="reelserve: self-hosted video generation behind the v3 predictions API.")
keys_app = typer.Typer(help="Create, list and revoke API keys.")
app.add_typer(keys_app, name="keys")
app.command("generate")(generate)
register_api_commands(app)

console = Console(stderr=True)
log = logging.getLogger("reelserve.cli")

DataDir = Annotated[
    Path, typer.Option("--data-dir", envvar="REELSERVE_DATA_DIR", help="SQLite database and files live here.")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="REELSERVE_DATABASE_URL", help="PostgreSQL URL; SQLite when unset."),
]


def _settings(**overrides: Any) -> Settings:
    return Settings(**{name: value for name, value in overrides.items() if value is not None})


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="REELSERVE_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="REELSERVE_PORT")] = 8000,
    data_dir: DataDir = Path("./reelserve-data"),
    workers: Annotated[
        int, typer.Option(envvar="REELSERVE_WORKERS", min=0, help="In-process workers; 0 runs the API alone.")
    ] = 1,
    config: Annotated[
        Path | None, typer.Option("--config", envvar="REELSERVE_CONFIG", help="reelserve.toml route bindings.")
    ] = None,
    database_url: DatabaseUrl = None,
    log_level: Annotated[str, typer.Option(envvar="REELSERVE_LOG_LEVEL")] = "info",
) -> None:
    """Start the server."""
    from reelserve.api.app import create_app
    from reelserve.api.connections import ReelserveServer, uvicorn_config
    from reelserve.catalog.bindings import ConfigError
    from reelserve.observe.logs import configure_logging
    from reelserve.observe.tracing import TracingUnavailable
    from reelserve.runtime import build_runtime, ensure_first_key

    settings = _settings(
        host=host, port=port, data_dir=data_dir, workers=workers, config=config, database_url=database_url
    )
    configure_logging(settings.log_format, log_level)
    try:
        runtime = build_runtime(settings)
    except (ConfigError, TracingUnavailable) as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
    first_key = ensure_first_key(runtime)
    if first_key is not None:
        if settings.log_format == "json":  # standard error holds JSON lines only; the key is not logged
            log.info("created the first API key %s; it is printed once, on standard output", first_key.info.id)
        else:
            console.print(
                f"[bold green]Created your first API key[/bold green] (shown once, keep it): {first_key.secret}"
            )
        print(f"API key: {first_key.secret}", flush=True)
    log.info("reelserve listening on http://%s:%s (data in %s)", host, port, data_dir.resolve())
    config = uvicorn_config(create_app(runtime=runtime), settings, host=host, port=port, log_level=log_level.lower())
    server = ReelserveServer(config, on_stopping=runtime.changes.close)
    server.run()
    if not server.started:
        raise typer.Exit(3)


@app.command()
def worker(
    database_url: DatabaseUrl = None,
    config: Annotated[
        Path | None, typer.Option("--config", envvar="REELSERVE_CONFIG", help="reelserve.toml route bindings.")
    ] = None,
    routes: Annotated[
        str | None,
        typer.Option("--routes", envvar="REELSERVE_WORKER_ROUTES", help="Comma-separated routes (default: all)."),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", envvar="REELSERVE_WORKER_CONCURRENCY", min=1, help="Jobs at once.")
    ] = 1,
    data_dir: DataDir = Path("./reelserve-data"),
    log_level: Annotated[str, typer.Option(envvar="REELSERVE_LOG_LEVEL")] = "info",
) -> None:
    """Run jobs (no API): load the engines of the routes once and take their jobs until SIGTERM, which sends
    running jobs back to the queue at once."""
    import signal
    import threading

    from reelserve.catalog.bindings import ConfigError
    from reelserve.observe.logs import configure_logging
    from reelserve.observe.operations import Observability
    from reelserve.runtime_worker import build_worker_runtime

    settings = _settings(data_dir=data_dir, config=config, database_url=database_url)
    configure_logging(settings.log_format, log_level)
    chosen = [route.strip() for route in routes.split(",") if route.strip()] if routes else None
    try:
        runtime = build_worker_runtime(settings, chosen, concurrency)
    except ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    # The API's operations side without readiness: tracing, the metrics port, multi-process clean-up.
    observability = Observability(settings)
    observability.start()
    try:
        runtime.start()
        served = ", ".join(runtime.queues) if runtime.queues is not None else "every queue"
        print(f"reelserve worker {runtime.report.worker_id} running ({served}; {concurrency} at once)", flush=True)
        while not stopping.wait(0.5):
            pass
        console.print("stopping: running jobs go back to the queue")
        runtime.stop()
    finally:
        observability.stop()


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="Who or what the key is for.")],
    balance: Annotated[str, typer.Option("--balance", help="Opening balance in USD.")] = "0",
    rpm: Annotated[int | None, typer.Option("--rpm", min=1, help="Generation requests per minute.")] = None,
    max_concurrency: Annotated[
        int | None, typer.Option("--max-concurrency", min=1, help="Jobs in flight at once.")
    ] = None,
    models: Annotated[
        str | None, typer.Option("--models", help="Comma-separated routes the key may use (default: all).")
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="May call the /admin API.")] = False,
    data_dir: DataDir = Path("./reelserve-data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Create a key with its own account; the key itself is printed alone on the last line."""
    from reelserve.service.keys import KeyLimits

    limits = KeyLimits(
        rpm=rpm,
        max_concurrency=max_concurrency,
        models=[model.strip() for model in models.split(",") if model.strip()] if models is not None else None,
    )
    with _operator_errors():
        created = _key_service(data_dir, database_url).create(
            name, balance_usd=balance, limits=limits, role="admin" if admin else "user"
        )
    console.print(f"created key {created.info.id} ({name}, balance ${balance}); it is shown only now:")
    print(created.secret)


@keys_app.command("topup")
def keys_topup(
    key_id: Annotated[str, typer.Argument(help="The key's id, as `keys list` shows it.")],
    amount: Annotated[str, typer.Argument(help="USD to add.")],
    data_dir: DataDir = Path("./reelserve-data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Add money to a key's account."""
    from reelserve.service.billing import BillingService

    with _operator_errors():
        balance = BillingService(_database(data_dir, database_url)).top_up(key_id, amount)
    console.print(f"{key_id}: balance is now ${balance:.6f}")


@keys_app.command("show")
def keys_show(
    key_id: Annotated[str, typer.Argument(help="The key's id, as `keys list` shows it.")],
    data_dir: DataDir = Path("./reelserve-data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Balance, limits and usage of one key."""
    with _operator_errors():
        details = _key_service(data_dir, database_url).show(key_id)
    info = details.info
    table = Table("field", "value", show_header=False)
    for field, value in (
        ("id", info.id), ("name", info.name), ("role", info.role), ("account", info.account_id),
        ("balance (USD)", f"{details.balance_usd:.6f}"),
        ("requests per minute", str(info.limits.rpm or "default")),
        ("jobs in flight", str(info.limits.max_concurrency or "default")),
        ("models", ", ".join(info.limits.models) if info.limits.models is not None else "all"),
        ("usage", ", ".join(f"{status}: {count}" for status, count in sorted(details.usage.items())) or "none"),
        ("revoked", info.revoked_at.isoformat(timespec="seconds") if info.revoked_at else "no"),
    ):
        table.add_row(field, value)
    Console().print(table)


@keys_app.command("list")
def keys_list(data_dir: DataDir = Path("./reelserve-data"), database_url: DatabaseUrl = None) -> None:
    """List keys (their ids and prefixes; keys themselves are stored only as hashes)."""
    table = Table("id", "name", "prefix", "created", "revoked")
    for key in _key_service(data_dir, database_url).list():
        table.add_row(
            key.id, key.name, key.prefix + "…", key.created_at.isoformat(timespec="seconds"),
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
        )
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, as `keys list` shows it.")],
    data_dir: DataDir = Path("./reelserve-data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: it answers 401 from now on."""
    with _operator_errors():
        key = _key_service(data_dir, database_url).revoke(key_id)
    console.print(f"revoked {key.id} ({key.name})")


@contextmanager
def _operator_errors() -> Iterator[None]:
    from reelserve.errors import ReelserveError

    try:
        yield
    except ReelserveError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None


def _database(data_dir: Path, database_url: str | None) -> Database:
    from reelserve.runtime import open_database

    return open_database(_settings(data_dir=data_dir, database_url=database_url))


def _key_service(data_dir: Path, database_url: str | None) -> KeyService:
    from reelserve.catalog.bindings import ConfigError, served_route_ids
    from reelserve.service.keys import KeyService

    try:
        known_models = served_route_ids(_settings(data_dir=data_dir, database_url=database_url).config)
    except ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
    return KeyService(_database(data_dir, database_url), known_models=known_models)
