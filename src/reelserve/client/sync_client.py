"""The blocking client."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
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


class Client:
    """A v3 predictions API (reelserve, WaveSpeed, GPTProto) from blocking code.

    `api_key` and `base_url` default to REELSERVE_API_KEY and REELSERVE_URL (then http://127.0.0.1:8000);
    `timeout` is seconds per request (or an httpx.Timeout); `max_retries` how often a call is sent again
    after a 429, a 5xx or a connection error; `transport` any httpx transport (MockTransport in tests).
    """

    def __init__(
        self, api_key: str | None = None, base_url: str | None = None, timeout: float | httpx.Timeout | None = 60.0,
        max_retries: int = 2, transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.options = ClientOptions.resolve(api_key, base_url, timeout, max_retries)
        self.retry = RetryPolicy(max_retries=self.options.max_retries)
        self._http = httpx.Client(
            base_url=self.options.base_url, headers=self.options.headers(), timeout=self.options.timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # Predictions

    def submit(
        self, model: str, input: dict[str, Any], *, webhook: str | None = None, idempotency_key: str | None = None
    ) -> Prediction:
        """Starts a prediction on route `model`; answers at once (or at the end with enable_sync_mode)."""
        call = calls.submit_call(model, input, webhook, idempotency_key, retries=self.retry.max_retries > 0)
        return Prediction.from_data(self._call(call))

    def get(self, prediction_id: str) -> Prediction:
        return Prediction.from_data(self._call(calls.get_call(prediction_id)))

    def run(
        self, model: str, input: dict[str, Any], *, progress: ProgressCallback | None = None,
        webhook: str | None = None, idempotency_key: str | None = None, timeout: float | None = None,
    ) -> Prediction:
        """Submits and waits; the completed prediction, or PredictionFailed for any other end."""
        prediction = self.submit(model, input, webhook=webhook, idempotency_key=idempotency_key)
        finished = self.wait(prediction, timeout=timeout, progress=progress)
        if not finished.succeeded:
            raise PredictionFailed(finished)
        return finished

    def wait(
        self, prediction: Prediction | str, *, timeout: float | None = None,
        progress: ProgressCallback | None = None, stream: bool = True,
    ) -> Prediction:
        """The prediction once it has ended, whichever way. Follows the server's event stream where it has
        one, else (or when the stream breaks off) polls, backing off while nothing changes. `progress` is
        called with each new state; Timeout after `timeout` seconds."""
        watch = Watch(prediction, timeout, progress)
        if watch.finished and watch.latest is not None:
            return watch.latest
        if stream:
            try:
                for update in self._events(watch.id, watch.stream_timeout(self.options.timeout), fallback=True):
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
                time.sleep(max(0.0, min(schedule.next(changed), watch.remaining())))
            update = self.get(watch.id)
            changed = watch.see(update)
            if update.finished:
                return update

    def stream(self, prediction_id: str) -> Iterator[Prediction]:
        """The prediction at each change the server announces (its SSE `prediction` events), to the end."""
        yield from self._events(prediction_id, self.options.timeout, fallback=False)

    def cancel(self, prediction_id: str) -> Prediction:
        return Prediction.from_data(self._call(calls.cancel_call(prediction_id)))

    def delete(self, prediction_id: str) -> None:
        self._call(calls.delete_call(prediction_id))

    def delete_many(self, prediction_ids: Iterable[str]) -> int:
        """Deletes those of `prediction_ids` that are the caller's; how many were."""
        return int(self._call(calls.delete_many_call(prediction_ids))["deleted_count"])

    def history(
        self, page: int = 1, page_size: int = 20, *, model: str | None = None, status: str | None = None,
        created_after: datetime | str | None = None, created_before: datetime | str | None = None,
    ) -> PredictionPage:
        call = calls.history_call(page, page_size, model, status, created_after, created_before)
        return PredictionPage.from_data(self._call(call))

    # Files and account

    def upload(
        self, file: str | os.PathLike[str] | bytes, *, filename: str | None = None, content_type: str | None = None
    ) -> Upload:
        """Uploads a file; its `download_url` is accepted wherever an input URL is."""
        return Upload.from_data(self._call(calls.upload_call(*upload_part(file, filename, content_type))))

    def download(
        self, source: Prediction | str, path: str | os.PathLike[str], *, index: int = 0,
        progress: BytesCallback | None = None,
    ) -> Path:
        """Writes a prediction's output `index` (or the file at a URL) to `path`; `progress(done, total)`."""
        output, target = output_of(source, index), Path(path)
        if not is_remote(output):
            target.write_bytes(inline_bytes(output))
            return target
        part = partial_path(target)
        response = self._send(calls.download_call(output, self.options.base_url), stream=True)
        try:
            total = int(response.headers["content-length"]) if "content-length" in response.headers else None
            done = 0
            with part.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        except httpx.TransportError as exc:
            part.unlink(missing_ok=True)
            raise error_from_transport(exc, output) from exc
        finally:
            response.close()
        part.replace(target)
        return target

    def balance(self) -> float:
        """The account's balance in USD."""
        return float(self._call(calls.balance_call())["balance"])

    def webhook_secret(self) -> str:
        """The secret that signs this key's webhook deliveries (`whsec_...`)."""
        return str(self._call(calls.webhook_secret_call())["secret"])

    def rotate_webhook_secret(self) -> str:
        return str(self._call(calls.rotate_webhook_secret_call())["secret"])

    # Sending

    def _call(self, call: ApiCall) -> Any:
        return unwrap(self._send(call))

    def _send(self, call: ApiCall, *, stream: bool = False, timeout: httpx.Timeout | None = None) -> httpx.Response:
        """The successful answer to `call`, after the retries the policy allows; else the error raised."""
        attempt = 0
        while True:
            request = build_request(self._http, call, timeout or self.options.timeout)
            try:
                response = self._http.send(request, stream=stream, follow_redirects=call.method == "GET")
            except httpx.TransportError as exc:
                delay = self.retry.after_error(call, exc, attempt)
                if delay is None:
                    raise error_from_transport(exc, str(request.url)) from exc
            else:
                if response.is_success:
                    return response
                delay = self.retry.after_response(call, response, attempt)
                response.read()
                response.close()
                if delay is None:
                    raise error_from_response(response)
            time.sleep(delay)
            attempt += 1

    def _events(self, prediction_id: str, timeout: httpx.Timeout, fallback: bool) -> Iterator[Prediction]:
        call = ApiCall("GET", calls.stream_path(prediction_id), headers=SSE_HEADERS)
        try:
            response = self._send(call, stream=True, timeout=timeout)
        except ReelserveError as exc:
            if fallback and stream_unavailable(exc):
                raise StreamUnavailable from exc
            raise
        try:
            for event in EventSource(response).iter_sse():
                update = prediction_of(event)
                if update is not None:
                    yield update
        except (SSEError, httpx.TransportError) as exc:
            raise stream_broken(exc, str(response.url), fallback) from exc
        finally:
            response.close()
        if fallback:
            raise StreamUnavailable("the stream ended before the prediction did")
