"""A fake of the v3 predictions API as WaveSpeed documents it (docs: "Submit Task & Query Result", the
media upload endpoint, the error-code table), plus the cancel endpoint of the v3 lifecycle.

- `POST /api/v3/{model}`: `Authorization: Bearer KEY`, JSON body -> `{"code": 200, "message": "success",
  "data": {"id", "model", "outputs": [], "urls": {"get"}, "status": "created", ...}}`.
- `GET /api/v3/predictions/{id}/result` -> the same `data` with `status` created | processing | completed |
  failed; a failed task carries `code` (1200: content moderation) and `error`.
- `POST /api/v3/media/upload/binary` (multipart `file`) -> `data.download_url`.
- `POST /api/v3/predictions/{id}/cancel` -> the prediction, `status` cancelled.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.fake_providers.base import FakeJob, FakeProvider, Recorded, json_response

MODERATION_CODE = 1200


class FakeV3(FakeProvider):
    name = "v3"

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.uploads: dict[str, bytes] = {}
        self.echo_credentials = False
        """A careless provider that repeats the caller's Authorization header in its error messages."""
        self.flag_outputs = False
        """Whether finished predictions say `has_nsfw_contents: [true]`."""

    def reset(self) -> None:
        super().reset()
        self.echo_credentials = False
        self.flag_outputs = False

    def routes(self) -> list[Route]:
        return [
            Route("/api/v3/media/upload/binary", self._upload, methods=["POST"]),
            Route("/api/v3/predictions/{id}/result", self._result, methods=["GET"]),
            Route("/api/v3/predictions/{id}/cancel", self._cancel, methods=["POST"]),
            Route("/uploads/{name}", self._uploaded, methods=["GET"]),
            Route("/api/v3/{model:path}", self._submit, methods=["POST"]),
        ]

    def submits(self) -> list[Recorded]:
        return [item for item in self.requests if item.method == "POST" and item.path.startswith("/api/v3/")
                and "/predictions/" not in item.path and "/media/" not in item.path]

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.api_key}"

    async def _submit(self, request: Request) -> Response:
        recorded = await self.record(request)
        if not self._authorized(request):
            return json_response({"code": 401, "message": "Unauthorized", "data": None}, 401)
        if self.echo_credentials:
            shown = request.headers.get("authorization")
            return json_response({"code": 400, "message": f"no such model for {shown}", "data": None}, 400)
        if self.take_rate_limit():
            return json_response({"code": 429, "message": "Too many requests", "data": None}, 429,
                                 {"Retry-After": "1"})
        if self.scenario == "server_error":
            return json_response({"code": 500, "message": "Internal error", "data": None}, 502)
        if self.scenario == "malformed":
            return Response("<html>upstream proxy error page</html>", media_type="text/html")
        if not isinstance(recorded.json, dict) or not recorded.json.get("prompt"):
            return json_response({"code": 400, "message": "prompt is required", "data": None}, 400)
        job = self.new_job(recorded.json)
        job.extra["model"] = request.path_params["model"]
        return json_response({"code": 200, "message": "success", "data": self._data(job, "created")})

    async def _result(self, request: Request) -> Response:
        await self.record(request)
        if not self._authorized(request):
            return json_response({"code": 401, "message": "Unauthorized", "data": None}, 401)
        job = self.jobs.get(request.path_params["id"])
        if job is None:
            return json_response({"code": 404, "message": "prediction not found", "data": None}, 404)
        job.polls += 1
        if job.cancelled:
            return json_response({"code": 200, "message": "success", "data": self._data(job, "cancelled")})
        if not job.done():
            return json_response({"code": 200, "message": "success", "data": self._data(job, "processing")})
        if job.scenario == "refused":
            data = {**self._data(job, "failed"), "code": MODERATION_CODE,
                    "error": "The content contains sensitive information."}
            return json_response({"code": 200, "message": "success", "data": data})
        if job.scenario == "failed":
            data = {**self._data(job, "failed"), "code": 1403, "error": "Task execution failed: out of capacity"}
            return json_response({"code": 200, "message": "success", "data": data})
        data = {**self._data(job, "completed"), "outputs": [self.output_url(job)],
                "has_nsfw_contents": [self.flag_outputs],
                "executionTime": 2345, "timings": {"inference": 1234}}
        return json_response({"code": 200, "message": "success", "data": data})

    async def _cancel(self, request: Request) -> Response:
        await self.record(request)
        if not self._authorized(request):
            return json_response({"code": 401, "message": "Unauthorized", "data": None}, 401)
        job = self.jobs.get(request.path_params["id"])
        if job is None:
            return json_response({"code": 404, "message": "prediction not found", "data": None}, 404)
        job.cancelled = True
        self.cancelled.append(job.id)
        return json_response({"code": 200, "message": "success", "data": self._data(job, "cancelled")})

    async def _upload(self, request: Request) -> Response:
        await self.record(request)
        if not self._authorized(request):
            return json_response({"code": 401, "message": "Unauthorized", "data": None}, 401)
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return json_response({"code": 400, "message": "file is required", "data": None}, 400)
        name = secrets.token_hex(8) + ".jpg"
        self.uploads[name] = await upload.read()
        data = {"type": "image", "download_url": f"{self.base_url}/uploads/{name}", "filename": upload.filename,
                "size": len(self.uploads[name])}
        return json_response({"code": 200, "message": "success", "data": data})

    async def _uploaded(self, request: Request) -> Response:
        data = self.uploads.get(request.path_params["name"])
        return Response(data, media_type="image/jpeg") if data is not None else Response(status_code=404)

    def _data(self, job: FakeJob, status: str) -> dict[str, Any]:
        return {
            "id": job.id,
            "model": job.extra.get("model"),
            "outputs": [],
            "urls": {"get": f"{self.base_url}/api/v3/predictions/{job.id}/result"},
            "status": status,
            "has_nsfw_contents": [],
            "created_at": "2025-01-01T00:00:00.000Z",
            "error": "",
            "executionTime": 0,
            "timings": {"inference": 0},
        }
