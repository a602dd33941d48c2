"""Each endpoint as a description of one HTTP call, and the reading of its answer; the same for the
blocking and the asyncio client, which only send them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from reelserve import __version__
from reelserve.client.errors import AuthenticationError, error_from_response

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
API_PREFIX = "/api/v3"


@dataclass(frozen=True)
class ApiCall:
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    headers: dict[str, str] | None = None
    idempotent: bool = True
    """Whether sending it twice does no more than sending it once: only such calls are retried after an
    answer that may have come after the work was done (5xx, a dropped connection)."""
    authorized: bool = True
    """False for URLs of other hosts (a CDN's output link): the API key is not sent there."""


@dataclass(frozen=True)
class ClientOptions:
    api_key: str
    base_url: str
    timeout: httpx.Timeout
    max_retries: int

    @classmethod
    def resolve(
        cls, api_key: str | None, base_url: str | None, timeout: float | httpx.Timeout | None, max_retries: int
    ) -> ClientOptions:
        key = api_key or os.environ.get("REELSERVE_API_KEY")
        if not key:
            raise AuthenticationError("no API key: pass api_key=... or set REELSERVE_API_KEY")
        url = (base_url or os.environ.get("REELSERVE_URL") or DEFAULT_BASE_URL).rstrip("/")
        # WaveSpeed documents its base URL with the API prefix; the endpoints here add it themselves.
        url = url.removesuffix(API_PREFIX)
        if timeout is None:
            timeout = 60.0
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        return cls(api_key=key, base_url=url, timeout=timeout, max_retries=max_retries)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "User-Agent": f"reelserve-client/{__version__}"}


def unwrap(response: httpx.Response) -> Any:
    """The envelope's `data`, or the error the answer describes."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict):
        code = body.get("code")
        if not (isinstance(code, int) and code >= 400 and body.get("data") is None):
            return body.get("data")
    if response.is_success and body is None:
        raise error_from_response(response, {"message": f"the server answered {response.url} with no JSON"})
    raise error_from_response(response, body)


def _id(value: str) -> str:
    return quote(str(value), safe="")


def submit_call(
    model: str, input: dict[str, Any], webhook: str | None, idempotency_key: str | None, retries: bool
) -> ApiCall:
    """A submit is retried only with an Idempotency-Key: the server then answers a repeat with the first
    prediction instead of starting (and charging) a second one."""
    if idempotency_key is None and retries:
        idempotency_key = uuid.uuid4().hex
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    params = {"webhook": webhook} if webhook else None
    path = f"{API_PREFIX}/{quote(model.strip('/'), safe='/')}"
    return ApiCall("POST", path, params=params, json=input, headers=headers, idempotent=headers is not None)


def get_call(prediction_id: str) -> ApiCall:
    return ApiCall("GET", f"{API_PREFIX}/predictions/{_id(prediction_id)}/result")


def stream_path(prediction_id: str) -> str:
    return f"{API_PREFIX}/predictions/{_id(prediction_id)}/stream"


def cancel_call(prediction_id: str) -> ApiCall:
    # A repeat of a cancel that worked answers 400 (ended already), so it is not retried after a 5xx.
    return ApiCall("POST", f"{API_PREFIX}/predictions/{_id(prediction_id)}/cancel", idempotent=False)


def delete_call(prediction_id: str) -> ApiCall:
    return ApiCall("DELETE", f"{API_PREFIX}/predictions/{_id(prediction_id)}", idempotent=False)


def delete_many_call(prediction_ids: Iterable[str]) -> ApiCall:
    return ApiCall("POST", f"{API_PREFIX}/predictions/delete", json={"ids": list(prediction_ids)}, idempotent=False)


def history_call(
    page: int, page_size: int, model: str | None, status: str | None,
    created_after: datetime | str | None, created_before: datetime | str | None,
) -> ApiCall:
    params: dict[str, Any] = {"page": page, "page_size": page_size}
    for name, value in (
        ("model", model), ("status", status), ("created_after", created_after), ("created_before", created_before),
    ):
        if value is not None:
            params[name] = value.isoformat() if isinstance(value, datetime) else value
    return ApiCall("GET", f"{API_PREFIX}/predictions", params=params)


def upload_call(filename: str, data: bytes, content_type: str) -> ApiCall:
    # A repeated upload stores the file twice and charges nothing: safe to retry.
    return ApiCall("POST", f"{API_PREFIX}/media/upload/binary", files={"file": (filename, data, content_type)})


def balance_call() -> ApiCall:
    return ApiCall("GET", f"{API_PREFIX}/balance")


def webhook_secret_call() -> ApiCall:
    return ApiCall("GET", f"{API_PREFIX}/webhook/secret")


def rotate_webhook_secret_call() -> ApiCall:
    return ApiCall("POST", f"{API_PREFIX}/webhook/secret/rotate", idempotent=False)


def download_call(url: str, base_url: str) -> ApiCall:
    target, base = httpx.URL(base_url).join(url), httpx.URL(base_url)
    same_origin = (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port)
    return ApiCall("GET", str(target), authorized=same_origin)


def build_request(http: httpx.Client | httpx.AsyncClient, call: ApiCall, timeout: httpx.Timeout) -> httpx.Request:
    request = http.build_request(
        call.method, call.path, params=call.params, json=call.json, files=call.files, headers=call.headers,
        timeout=timeout,
    )
    if not call.authorized:
        request.headers.pop("Authorization", None)
    return request
