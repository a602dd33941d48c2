"""A fake of Replicate's HTTP API as Replicate documents it (predictions, prediction lifecycle, files).

- `POST /v1/models/{owner}/{name}/predictions` with `{"input": {...}}`, or `POST /v1/predictions` with
  `{"version", "input"}`; `Authorization: Bearer TOKEN`; `Prefer: wait=N` holds the answer until the
  prediction ends or N seconds pass. The answer (201) is the prediction: `{id, model, version, input, logs,
  output, error, status, created_at, started_at, completed_at, metrics, urls: {get, cancel, stream, web}}`.
- status: starting | processing | succeeded | failed | canceled | aborted; `output` a file URL.
- `GET /v1/predictions/{id}`; `POST /v1/predictions/{id}/cancel` -> the prediction, `status` canceled.
- `POST /v1/files` (multipart `content`) -> `{id, name, content_type, size, urls: {get}}`.
- Errors are problem details `{"title", "detail", "status"}`; 429 when throttled.
- A refused input or output fails the prediction with error E005 ("flagged as sensitive").
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.fake_providers.base import FakeJob, FakeProvider, Recorded, json_response

SENSITIVE = "The input or output was flagged as sensitive. Please try again with different inputs. (E005)"


class FakeReplicate(FakeProvider):
    name = "replicate"

    def __init__(self, api_token: str) -> None:
        super().__init__()
        self.api_token = api_token
        self.files: dict[str, bytes] = {}

    def routes(self) -> list[Route]:
        return [
            Route("/v1/models/{owner}/{name}/predictions", self._create, methods=["POST"]),
            Route("/v1/predictions", self._create, methods=["POST"]),
            Route("/v1/predictions/{id}", self._get, methods=["GET"]),
            Route("/v1/predictions/{id}/cancel", self._cancel, methods=["POST"]),
            Route("/v1/files", self._upload, methods=["POST"]),
        ]

    def submits(self) -> list[Recorded]:
        return [item for item in self.requests if item.method == "POST" and item.path.endswith("/predictions")]

    def _unauthorized(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.api_token}":
            return _problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        return None

    async def _create(self, request: Request) -> Response:
        recorded = await self.record(request)
        refusal = self._unauthorized(request)
        if refusal is not None:
            return refusal
        if self.take_rate_limit():
            response = _problem(429, "Request was throttled", "Request was throttled. Expected available in 1 second.")
            response.headers["Retry-After"] = "1"
            return response
        if self.scenario == "server_error":
            return _problem(500, "Internal Server Error", "Something went wrong")
        if self.scenario == "malformed":
            return Response("{\"id\": ", status_code=201, media_type="application/json")
        body = recorded.json if isinstance(recorded.json, dict) else {}
        if not isinstance(body.get("input"), dict):
            return _problem(422, "Input validation failed", "input is required")
        job = self.new_job(body["input"])
        job.extra["model"] = "/".join(request.path_params.values()) or body.get("version")
        wait = _prefer_wait(request.headers.get("prefer", ""))
        end = time.monotonic() + wait
        while wait and not job.done() and time.monotonic() < end and job.scenario in ("ok", "slow"):
            job.polls += 1
            await asyncio.sleep(0.1)
        return json_response(self._prediction(job), 201)

    async def _get(self, request: Request) -> Response:
        await self.record(request)
        refusal = self._unauthorized(request)
        if refusal is not None:
            return refusal
        job = self.jobs.get(request.path_params["id"])
        if job is None:
            return _problem(404, "Not found", "The requested resource could not be found")
        job.polls += 1
        return json_response(self._prediction(job))

    async def _cancel(self, request: Request) -> Response:
        await self.record(request)
        refusal = self._unauthorized(request)
        if refusal is not None:
            return refusal
        job = self.jobs.get(request.path_params["id"])
        if job is None:
            return _problem(404, "Not found", "The requested resource could not be found")
        job.cancelled = True
        self.cancelled.append(job.id)
        return json_response(self._prediction(job))

    async def _upload(self, request: Request) -> Response:
        await self.record(request)
        refusal = self._unauthorized(request)
        if refusal is not None:
            return refusal
        form = await request.form()
        content = form.get("content")
        if content is None or isinstance(content, str):
            return _problem(400, "Bad request", "content is required")
        file_id = secrets.token_hex(8)
        self.files[file_id] = await content.read()
        return json_response({"id": file_id, "name": content.filename, "content_type": content.content_type,
                              "size": len(self.files[file_id]),
                              "urls": {"get": f"{self.base_url}/v1/files/{file_id}"}}, 201)

    def _prediction(self, job: FakeJob) -> dict[str, Any]:
        status, output, error, metrics = "processing", None, None, {}
        if job.cancelled:
            status = "canceled"
        elif job.polls == 0:
            status = "starting"
        elif job.done():
            metrics = {"predict_time": 1.5, "total_time": 2.25}
            if job.scenario == "refused":
                status, error = "failed", SENSITIVE
            elif job.scenario == "failed":
                status, error = "failed", "CUDA out of memory on the runner"
            else:
                status, output = "succeeded", self.output_url(job)
        base = f"{self.base_url}/v1/predictions/{job.id}"
        return {
            "id": job.id, "model": job.extra.get("model"), "version": "fake", "input": job.input, "logs": "",
            "output": output, "error": error, "status": status, "created_at": "2025-01-01T00:00:00Z",
            "data_removed": False, "metrics": metrics,
            "urls": {"get": base, "cancel": f"{base}/cancel", "web": f"https://replicate.com/p/{job.id}"},
        }


def _prefer_wait(header: str) -> float:
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "wait":
            return float(value) if value else 60.0
    return 0.0


def _problem(status: int, title: str, detail: str) -> Response:
    return json_response({"title": title, "detail": detail, "status": status}, status)
