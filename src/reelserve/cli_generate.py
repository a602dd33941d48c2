"""`reelserve generate`: one video from an image and a prompt, on a server or, with no server, in this
process on the embedded default (the real app driven through the client, so the same rules apply)."""

from __future__ import annotations

import asyncio
import base64
import mimetypes
import signal
import tempfile
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer

from reelserve.cli_predictions import ApiKey, ServerUrl, api_errors, console
from reelserve.cli_progress import GenerationProgress
from reelserve.client import (
    AsyncClient,
    InvalidRequest,
    NotFound,
    Prediction,
    PredictionFailed,
    ReelserveError,
)

DEFAULT_ROUTE = "kwaivgi/kling-v2.5-turbo-std/image-to-video"
"""The seed's route, which the embedded default serves."""
EMBEDDED_URL = "http://reelserve.embedded"
INTERRUPTED_EXIT = 130

T = TypeVar("T")

ImageFile = Annotated[Path, typer.Option("--image", exists=True, dir_okay=False, readable=True,
                                         help="The first frame: a JPEG, PNG or WebP photo.")]


class Interrupted(Exception):
    """Ctrl-C came while something was being waited for."""


class Stopped(Exception):
    """The run stops on Ctrl-C; the message says what became of the job."""


def generate(
    image: ImageFile,
    prompt: Annotated[str, typer.Option("--prompt", help="What should happen in the video.")],
    model: Annotated[str, typer.Option("--model", help="The model route.")] = DEFAULT_ROUTE,
    duration: Annotated[int | None, typer.Option("--duration", help="Seconds (the route's default: 5).")] = None,
    aspect_ratio: Annotated[str | None, typer.Option("--aspect-ratio", help="16:9, 9:16 or 1:1.")] = None,
    end_image: Annotated[Path | None, typer.Option(
        "--end-image", exists=True, dir_okay=False, readable=True, help="The last frame, where the route has one.",
    )] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Where to write the MP4.")] = None,
    server: ServerUrl = None,
    key: ApiKey = None,
    config: Annotated[Path | None, typer.Option(
        "--config", envvar="REELSERVE_CONFIG", help="Without --server: reelserve.toml route bindings.",
    )] = None,
) -> None:
    """Make a video from an image and a prompt; without --server, right here with no server or key."""
    params: dict[str, Any] = {"prompt": prompt}
    if duration is not None:
        params["duration"] = duration
    if aspect_ratio is not None:
        params["aspect_ratio"] = aspect_ratio
    with api_errors():
        try:
            saved = asyncio.run(_generate(model, params, image, end_image, output, server, key, config))
        except Stopped as stopped:
            console.print(f"[yellow]{stopped}[/yellow]", highlight=False)
            raise typer.Exit(INTERRUPTED_EXIT) from None
    print(saved)


async def _generate(
    model: str, params: dict[str, Any], image: Path, end_image: Path | None, output: Path | None,
    server: str | None, key: str | None, config: Path | None,
) -> Path:
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    try:
        if server:
            if not key:
                console.print("[red]error:[/red] no API key: pass --key KEY or set REELSERVE_API_KEY")
                raise typer.Exit(2)
            async with AsyncClient(api_key=key, base_url=server) as client:
                return await _make_video(client, model, params, image, end_image, output, interrupted, stream=True)
        async with embedded_client(config) as client:
            # The in-process transport hands over an answer only once it is complete: poll, don't stream.
            return await _make_video(client, model, params, image, end_image, output, interrupted, stream=False)
    finally:
        loop.remove_signal_handler(signal.SIGINT)


async def _make_video(
    client: AsyncClient, model: str, params: dict[str, Any], image: Path, end_image: Path | None,
    output: Path | None, interrupted: asyncio.Event, stream: bool,
) -> Path:
    with GenerationProgress(console) as shown:
        try:
            shown.step("uploading")
            params["image"] = await _until(interrupted, _image_input(client, image))
            if end_image is not None:
                params["end_image"] = await _until(interrupted, _image_input(client, end_image))
        except Interrupted:
            raise Stopped("interrupted before anything was submitted; nothing was charged") from None
        shown.step("submitting")
        # Not interruptible: once sent, the job exists, and only its id lets it be cancelled.
        prediction = await client.submit(model, params)
        try:
            prediction = await _until(interrupted, client.wait(prediction, progress=shown.prediction, stream=stream))
        except Interrupted:
            shown.step("cancelling")
            raise Stopped(await _cancel(client, prediction)) from None
        if not prediction.succeeded:
            raise PredictionFailed(prediction)
        target = output or Path(f"{prediction.id}.mp4")
        try:
            await _until(interrupted, client.download(prediction, target, progress=shown.downloaded))
        except Interrupted:
            raise Stopped(f"interrupted while downloading; the video is still at {prediction.outputs[0]}") from None
        shown.finished(f"saved {target}")
    return target


async def _image_input(client: AsyncClient, path: Path) -> str:
    """An upload URL; where the server has no upload endpoint, the image inline as a data: URI."""
    try:
        return (await client.upload(path)).download_url
    except (NotFound, InvalidRequest) as exc:
        if isinstance(exc, InvalidRequest) and exc.status_code != 405:
            raise
    media_type = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{media_type};base64,{base64.b64encode(path.read_bytes()).decode()}"


async def _until(interrupted: asyncio.Event, work: Awaitable[T]) -> T:
    """`work`'s result, or Interrupted (with `work` cancelled) once Ctrl-C was pressed."""
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(interrupted.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise Interrupted
    return task.result()


async def _cancel(client: AsyncClient, prediction: Prediction) -> str:
    try:
        cancelled = await client.cancel(prediction.id)
    except ReelserveError as exc:
        return f"interrupted; prediction {prediction.id} could not be cancelled on the server: {exc.message}"
    return f"interrupted: prediction {cancelled.id} was cancelled on the server (status {cancelled.status})"


@asynccontextmanager
async def embedded_client(config: Path | None) -> AsyncIterator[AsyncClient]:
    """A client of a reelserve built for this one run on a temporary data directory, served in-process."""
    from reelserve.api.app import create_app
    from reelserve.config import Settings
    from reelserve.runtime import build_runtime, ensure_first_key

    with tempfile.TemporaryDirectory(prefix="reelserve-generate-") as data_dir:
        # Everything that would point this run at shared state or limit it is set, not read from REELSERVE_*.
        settings = Settings(
            data_dir=Path(data_dir), database_url=None, config=config, workers=1, public_url=None,
            rate_limit_storage=None, first_key_balance_usd=Decimal(1_000_000), worker_poll_seconds=0.2,
        )
        runtime = await asyncio.to_thread(build_runtime, settings)
        try:
            first_key = ensure_first_key(runtime)
            assert first_key is not None, "a new data directory has no keys"
            await asyncio.to_thread(runtime.start)
            transport = httpx.ASGITransport(app=create_app(runtime=runtime))
            async with AsyncClient(
                api_key=first_key.secret, base_url=EMBEDDED_URL, transport=transport, max_retries=0
            ) as client:
                yield client
        finally:
            await asyncio.to_thread(runtime.stop)
