"""`reelserve predictions list|show|cancel|delete`, `reelserve upload` and `reelserve balance`: a server's
API from the command line, through reelserve.client."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from reelserve.client import Client, Prediction, ReelserveError

PIPED_WIDTH = 160

predictions_app = typer.Typer(help="Your predictions on a server: list, show, cancel, delete.")

console = Console(stderr=True)
# Piped into another program, a table is not squeezed into 80 columns.
out = Console() if sys.stdout.isatty() else Console(width=PIPED_WIDTH)

ServerUrl = Annotated[
    str | None, typer.Option("--server", envvar="REELSERVE_URL", help="The server, e.g. http://127.0.0.1:8000.")
]
ApiKey = Annotated[str | None, typer.Option("--key", envvar="REELSERVE_API_KEY", help="Your API key (sk-...).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the server's data as JSON.")]


def register(app: typer.Typer) -> None:
    app.add_typer(predictions_app, name="predictions")
    app.command("upload")(upload)
    app.command("balance")(balance)


@contextmanager
def api_errors() -> Iterator[None]:
    """The server's own message, and a non-zero exit, for every error it answers."""
    try:
        yield
    except ReelserveError as exc:
        param = f" ({exc.param})" if exc.param else ""
        console.print(f"[red]error:[/red] {exc.message}{param}", highlight=False)
        raise typer.Exit(1) from None


def server_client(server: str | None, key: str | None) -> Client:
    if not server:
        console.print("[red]error:[/red] no server: pass --server URL or set REELSERVE_URL")
        raise typer.Exit(2)
    if not key:
        console.print("[red]error:[/red] no API key: pass --key KEY or set REELSERVE_API_KEY")
        raise typer.Exit(2)
    return Client(api_key=key, base_url=server)


@predictions_app.command("list")
def predictions_list(
    page: Annotated[int, typer.Option(min=1)] = 1,
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=100)] = 20,
    model: Annotated[str | None, typer.Option(help="Only this route.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status (completed, failed, ...).")] = None,
    after: Annotated[str | None, typer.Option("--after", help="Made after this ISO 8601 time.")] = None,
    before: Annotated[str | None, typer.Option("--before", help="Made before this ISO 8601 time.")] = None,
    server: ServerUrl = None,
    key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Your predictions, newest first."""
    with api_errors(), server_client(server, key) as client:
        found = client.history(
            page, page_size, model=model, status=status, created_after=after, created_before=before
        )
    if as_json:
        out.print_json(data={"page": found.page, "page_size": found.page_size, "total": found.total,
                             "items": [item.raw for item in found.items]})
        return
    pages = max(1, -(-found.total // max(1, found.page_size)))
    table = Table(title=f"page {found.page} of {pages}, {found.total} in all", box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True, min_width=32)
    table.add_column("status", no_wrap=True)
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("USD", justify="right", no_wrap=True)
    table.add_column("model", overflow="fold")
    for item in found.items:
        table.add_row(
            item.id, _status(item),
            item.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if item.created_at else "",
            f"{item.price:.3f}" if item.price is not None else "", item.model or "",
        )
    out.print(table)


@predictions_app.command("show")
def predictions_show(
    prediction_id: Annotated[str, typer.Argument(help="The prediction's id.")],
    server: ServerUrl = None,
    key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """One prediction: status, progress, outputs, error."""
    with api_errors(), server_client(server, key) as client:
        prediction = client.get(prediction_id)
    if as_json:
        out.print_json(data=prediction.raw)
        return
    out.print(_details(prediction))


@predictions_app.command("cancel")
def predictions_cancel(
    prediction_id: Annotated[str, typer.Argument(help="The prediction's id.")],
    server: ServerUrl = None,
    key: ApiKey = None,
) -> None:
    """Cancel a prediction that has not ended (refunded in full)."""
    with api_errors(), server_client(server, key) as client:
        prediction = client.cancel(prediction_id)
    console.print(f"{prediction.id}: {prediction.status}", highlight=False)


@predictions_app.command("delete")
def predictions_delete(
    prediction_ids: Annotated[list[str], typer.Argument(help="One or more prediction ids.")],
    server: ServerUrl = None,
    key: ApiKey = None,
) -> None:
    """Delete predictions and their files."""
    with api_errors(), server_client(server, key) as client:
        for prediction_id in prediction_ids:
            client.delete(prediction_id)
            console.print(f"deleted {prediction_id}", highlight=False)


def upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The file to upload.")],
    server: ServerUrl = None,
    key: ApiKey = None,
) -> None:
    """Upload a file; its URL (for `image` and the like) is printed alone on stdout."""
    with api_errors(), server_client(server, key) as client:
        uploaded = client.upload(file)
    size = f"{uploaded.size:,} bytes" if uploaded.size is not None else "size unknown"
    console.print(f"uploaded {uploaded.filename} ({uploaded.type or 'file'}, {size})", highlight=False)
    print(uploaded.download_url)


def balance(server: ServerUrl = None, key: ApiKey = None) -> None:
    """Your account's balance in USD."""
    with api_errors(), server_client(server, key) as client:
        amount = client.balance()
    print(f"{amount:.6f}")


def _status(prediction: Prediction) -> str:
    if prediction.status == "processing" and prediction.progress is not None:
        return f"processing {prediction.progress}%"
    if prediction.status == "created" and prediction.queue_position:
        return f"queued #{prediction.queue_position}"
    return prediction.status


def _details(prediction: Prediction) -> Table:
    table = Table(show_header=False)
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    rows = [
        ("id", prediction.id), ("model", prediction.model or ""), ("status", prediction.status),
        ("progress", f"{prediction.progress}%" if prediction.progress is not None else ""),
        ("queue position", str(prediction.queue_position or "")),
        ("created", prediction.created_at.isoformat(timespec="seconds") if prediction.created_at else ""),
        ("price (USD)", f"{prediction.price:.4f}" if prediction.price is not None else ""),
        ("error", prediction.error or ""),
        ("input", _shortened(json.dumps(prediction.input, ensure_ascii=False))),
    ]
    rows += [(f"output {number}", url) for number, url in enumerate(prediction.outputs)]
    if prediction.outputs_expired_at is not None:
        rows.append(("outputs expired", prediction.outputs_expired_at.isoformat(timespec="seconds")))
    for field, value in rows:
        if value:
            table.add_row(field, value)
    return table


def _shortened(text: str, limit: int = 500) -> str:
    """An inline (base64) image would fill the screen."""
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"
