"""The asyncio client: the same calls as the blocking one (sync_client.py), awaited."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from reelserve.client import calls
from reelserve.client.calls import ApiCall, ClientOptions, build_request, unwrap
from reelserve.client.errors import PredictionFailed, ReelserveError, error_from_response, error_from_transport
from reelserve.client.files import BytesCallback, inline_bytes, is_remote, output_of, partial_path, upload_part
from reelserve.client.retries import PollSchedule, RetryPolicy
from reelserve.client.types import Prediction, PredictionPage, Upload
from reelserve.client.waiting import (
    SSE_HEADERS,
    ProgressCallback,
    StreamUnavailable,
    Watch,
    prediction_of,
    stream_broken,
    stream_unavailable,
)


class AsyncClient:
    """A v3 predictions API from asyncio code; the arguments and methods of `Client`, awaited.
    `transport` may be any async httpx transport, e.g. `httpx.ASGITransport(app)` to drive an app in-process."""

    def __init__(
        self, api_key: str | None = None, base_url: str | None = None, timeout: float | httpx.Timeout | None = 60.0,
        max_retries: int = 2, transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.options = ClientOptions.resolve(api_key, base_url, timeout, max_retries)
        self.retry = RetryPolicy(max_retries=self.options.max_retries)
        self._http = httpx.AsyncClient(
            base_url=self.options.base_url, headers=self.options.headers(), timeout=self.options.timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    # Predictions

    async def submit(
        self, model: str, input: dict[str, Any], *, webhook: str | None = None, idempotency_key: str | None = None
    ) -> Prediction:
        call = calls.submit_call(model, input, webhook, idempotency_key, retries=self.retry.max_retries > 0)
        return Prediction.from_data(await self._call(call))

    async def get(self, prediction_id: str) -> Prediction:
        return Prediction.from_data(await self._call(calls.get_call(prediction_id)))

    async def run(
        self, model: str, input: dict[str, Any], *, progress: ProgressCallback | None = None,
        webhook: str | None = None, idempotency_key: str | None = None, timeout: float | None = None,
    ) -> Prediction:
        prediction = await self.submit(model, input, webhook=webhook, idempotency_key=idempotency_key)
        finished = await self.wait(prediction, timeout=timeout, progress=progress)
        if not finished.succeeded:
            raise PredictionFailed(finished)
        return finished

    async def wait(
        self, prediction: Prediction | str, *, timeout: float | None = None,
        progress: ProgressCallback | None = None, stream: bool = True,
    ) -> Prediction:
        watch = Watch(prediction, timeout, progress)
        if watch.finished and watch.latest is not None:
            return watch.latest
        if stream:
            events = self._events(watch.id, watch.stream_timeout(self.options.timeout), fallback=True)
            try:
                async with aclosing(events):
                    async for update in events:
                        watch.see(update)
                        if update.finished:
                            return update
            except StreamUnavailable:
                pass
        schedule = PollSchedule()
        changed = False
        while True:
            watch.check_time()
            if watch.latest is not None:
                await asyncio.sleep(max(0.0, min(schedule.next(changed), watch.remaining())))
            update = await self.get(watch.id)
            changed = watch.see(update)
            if update.finished:
                return update

    async def stream(self, prediction_id: str) -> AsyncIterator[Prediction]:
        events = self._events(prediction_id, self.options.timeout, fallback=False)
        async with aclosing(events):
            async for update in events:
                yield update

    async def cancel(self, prediction_id: str) -> Prediction:
        return Prediction.from_data(await self._call(calls.cancel_call(prediction_id)))

    async def delete(self, prediction_id: str) -> None:
        await self._call(calls.delete_call(prediction_id))

    async def delete_many(self, prediction_ids: Iterable[str]) -> int:
        return int((await self._call(calls.delete_many_call(prediction_ids)))["deleted_count"])

    async def history(
        self, page: int = 1, page_size: int = 20, *, model: str | None = None, status: str | None = None,
        created_after: datetime | str | None = None, created_before: datetime | str | None = None,
    ) -> PredictionPage:
        call = calls.history_call(page, page_size, model, status, created_after, created_before)
        return PredictionPage.from_data(await self._call(call))

    # Files and account

    async def upload(
        self, file: str | os.PathLike[str] | bytes, *, filename: str | None = None, content_type: str | None = None
    ) -> Upload:
        part = await asyncio.to_thread(upload_part, file, filename, content_type)
        return Upload.from_data(await self._call(calls.upload_call(*part)))

    async def download(
        self, source: Prediction | str, path: str | os.PathLike[str], *, index: int = 0,
        progress: BytesCallback | None = None,
    ) -> Path:
        output, target = output_of(source, index), Path(path)
        if not is_remote(output):
            await asyncio.to_thread(target.write_bytes, inline_bytes(output))
            return target
        part = partial_path(target)
        response = await self._send(calls.download_call(output, self.options.base_url), stream=True)
        try:
            total = int(response.headers["content-length"]) if "content-length" in response.headers else None
            done = 0
            with part.open("wb") as handle:
                async for chunk in response.aiter_bytes():
                    handle.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        except httpx.TransportError as exc:
            part.unlink(missing_ok=True)
            raise error_from_transport(exc, output) from exc
        finally:
            await response.aclose()
        part.replace(target)
        return target

    async def balance(self) -> float:
        return float((await self._call(calls.balance_call()))["balance"])

    async def webhook_secret(self) -> str:
        return str((await self._call(calls.webhook_secret_call()))["secret"])

    async def rotate_webhook_secret(self) -> str:
        return str((await self._call(calls.rotate_webhook_secret_call()))["secret"])

    # Sending

    async def _call(self, call: ApiCall) -> Any:
        return unwrap(await self._send(call))

    async def _send(
        self, call: ApiCall, *, stream: bool = False, timeout: httpx.Timeout | None = None
    ) -> httpx.Response:
        attempt = 0
        while True:
            request = build_request(self._http, call, timeout or self.options.timeout)
            try:
                response = await self._http.send(request, stream=stream, follow_redirects=call.method == "GET")
            except httpx.TransportError as exc:
                delay = self.retry.after_error(call, exc, attempt)
                if delay is None:
                    raise error_from_transport(exc, str(request.url)) from exc
            else:
                if response.is_success:
                    return response
                delay = self.retry.after_response(call, response, attempt)
                await response.aread()
                await response.aclose()
                if delay is None:
                    raise error_from_response(response)
            await asyncio.sleep(delay)
            attempt += 1

    async def _events(
        self, prediction_id: str, timeout: httpx.Timeout, fallback: bool
    ) -> AsyncIterator[Prediction]:
        call = ApiCall("GET", calls.stream_path(prediction_id), headers=SSE_HEADERS)
        try:
            response = await self._send(call, stream=True, timeout=timeout)
        except ReelserveError as exc:
            if fallback and stream_unavailable(exc):
                raise StreamUnavailable from exc
            raise
        try:
            async for event in EventSource(response).aiter_sse():
                update = prediction_of(event)
                if update is not None:
                    yield update
        except (SSEError, httpx.TransportError) as exc:
            raise stream_broken(exc, str(response.url), fallback) from exc
        finally:
            await response.aclose()
        if fallback:
            raise StreamUnavailable("the stream ended before the prediction did")
