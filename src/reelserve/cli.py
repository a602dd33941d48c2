"""The `reelserve` command: serve the API, and manage API keys."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from reelserve.config import Settings

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
    first_key = ensure_first_key(runtime.keys)
    if first_key is not None:
        console.print(
            f"[bold green]Created your first API key[/bold green] (shown once, keep it): {first_key.secret}"
        )
        print(f"API key: {first_key.secret}", flush=True)
    console.print(f"reelserve listening on http://{host}:{port} (data in {data_dir.resolve()})")
    uvicorn.run(create_app(runtime=runtime), host=host, port=port, log_level=log_level.lower())


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="Who or what the key is for.")],
    data_dir: DataDir = Path("./reelserve-data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Create a key; the key itself is printed alone on the last line."""
    service = _key_service(data_dir, database_url)
    created = service.create(name)
    console.print(f"created key {created.info.id} ({name}); it is shown only now:")
    print(created.secret)


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
    from reelserve.errors import NotFound

    try:
        key = _key_service(data_dir, database_url).revoke(key_id)
    except NotFound as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    console.print(f"revoked {key.id} ({key.name})")


def _key_service(data_dir: Path, database_url: str | None):  # type: ignore[no-untyped-def]
    from reelserve.runtime import open_database
    from reelserve.service.keys import KeyService

    return KeyService(open_database(_settings(data_dir=data_dir, database_url=database_url)))
