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

from reelserve.config import Settings

if TYPE_CHECKING:
    from reelserve.service.keys import KeyService
    from reelserve.store.database import Database

app = typer.Typer(help="reelserve: self-hosted video generation behind the v3 predictions API.")
keys_app = typer.Typer(help="Create, list and revoke API keys.")
app.add_typer(keys_app, name="keys")

console = Console(stderr=True)

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
    import uvicorn

    from reelserve.api.app import create_app
    from reelserve.catalog.bindings import ConfigError
    from reelserve.runtime import build_runtime, ensure_first_key

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(
        host=host, port=port, data_dir=data_dir, workers=workers, config=config, database_url=database_url
    )
    try:
        runtime = build_runtime(settings)
    except ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
    first_key = ensure_first_key(runtime)
    if first_key is not None:
        console.print(
            f"[bold green]Created your first API key[/bold green] (shown once, keep it): {first_key.secret}"
        )
        print(f"API key: {first_key.secret}", flush=True)
    console.print(f"reelserve listening on http://{host}:{port} (data in {data_dir.resolve()})")
    # asyncio's loop, not uvloop: submits run on the loop, and libuv accepts one connection per loop
    # iteration, so under load new connections would wait seconds to be accepted.
    uvicorn.run(create_app(runtime=runtime), host=host, port=port, log_level=log_level.lower(), loop="asyncio")


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
    from reelserve.service.keys import KeyService

    return KeyService(_database(data_dir, database_url))
