"""A fake of Kling's official API as its public documentation describes it.

- Authorization: `Bearer <JWT>`, HS256 signed with the secret key, `iss` the access key, `exp` and `nbf`
  checked; otherwise HTTP 401 with code 1000-1004.
- `POST /v1/videos/image2video` (`model_name`, `image` as base64 or URL, `image_tail`, `prompt`,
  `negative_prompt`, `cfg_scale` 0-1, `mode` std|pro, `duration` "5"|"10") and `POST /v1/videos/text2video`
  -> `{"code": 0, "message": "SUCCEED", "request_id", "data": {"task_id", "task_status": "submitted",
  "created_at", "updated_at"}}`.
- `GET /v1/videos/{kind}/{task_id}` -> `task_status` submitted | processing | succeed | failed,
  `task_status_msg`, `task_result.videos[{id, url, duration}]`.
- Errors: 400/1301 content security policy, 429/1302 requests too fast, 500/5000 internal error.
- There is no cancel endpoint.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.fake_providers.base import FakeJob, FakeProvider, Recorded, json_response


class FakeKling(FakeProvider):
    name = "kling"

    def __init__(self, access_key: str, secret_key: str) -> None:
        super().__init__()
        self.access_key = access_key
        self.secret_key = secret_key

    def routes(self) -> list[Route]:
        return [
            Route("/v1/videos/{kind}", self._submit, methods=["POST"]),
            Route("/v1/videos/{kind}/{task_id}", self._query, methods=["GET"]),
        ]

    def submits(self) -> list[Recorded]:
        return [item for item in self.requests if item.method == "POST"]

    def _auth_failure(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return _error(401, 1001, "Authorization is empty")
        try:
            claims = jwt.decode(header[7:], self.secret_key, algorithms=["HS256"], options={"require": ["exp", "nbf"]})
        except jwt.ExpiredSignatureError:
            return _error(401, 1004, "Authorization has expired")
        except jwt.ImmatureSignatureError:
            return _error(401, 1003, "Authorization is not yet valid")
        except jwt.InvalidTokenError:
            return _error(401, 1002, "Authorization is invalid")
        if claims.get("iss") != self.access_key:
            return _error(401, 1000, "Authentication failed")
        return None

    async def _submit(self, request: Request) -> Response:
        recorded = await self.record(request)
        failure = self._auth_failure(request)
        if failure is not None:
            return failure
        kind = request.path_params["kind"]
        if kind not in ("image2video", "text2video"):
            return _error(404, 1202, "invalid request method")
        if self.take_rate_limit():
            return _error(429, 1302, "The API request is too fast, please slow down")
        if self.scenario == "server_error":
            return _error(500, 5000, "Server internal error")
        if self.scenario == "malformed":
            return Response("Service Unavailable", status_code=200, media_type="text/plain")
        body = recorded.json if isinstance(recorded.json, dict) else {}
        problem = _invalid(body, kind)
        if problem:
            return _error(400, 1201, problem)
        if self.scenario == "refused":
            return _error(400, 1301, "Trigger the content security policy of the platform")
        job = self.new_job(body, job_id=str(time.time_ns()))
        job.extra["kind"] = kind
        return json_response({"code": 0, "message": "SUCCEED", "request_id": job.id,
                              "data": self._task(job, "submitted")})

    async def _query(self, request: Request) -> Response:
        await self.record(request)
        failure = self._auth_failure(request)
        if failure is not None:
            return failure
        job = self.jobs.get(request.path_params["task_id"])
        if job is None or job.extra.get("kind") != request.path_params["kind"]:
            return _error(404, 1203, "task not found")
        job.polls += 1
        if not job.done():
            return json_response({"code": 0, "message": "SUCCEED", "data": self._task(job, "processing")})
        if job.scenario == "failed":
            task = {**self._task(job, "failed"), "task_status_msg": "Generation failed, please try again"}
            return json_response({"code": 0, "message": "SUCCEED", "data": task})
        videos = [{"id": f"v{job.id}", "url": self.output_url(job), "duration": str(job.input.get("duration", "5"))}]
        task = {**self._task(job, "succeed"), "task_result": {"videos": videos}, "final_unit_deduction": "2"}
        return json_response({"code": 0, "message": "SUCCEED", "data": task})

    def _task(self, job: FakeJob, status: str) -> dict[str, Any]:
        created = int(job.created * 1000)
        return {"task_id": job.id, "task_status": status, "task_status_msg": "",
                "created_at": created, "updated_at": created + 1500}


def _invalid(body: dict[str, Any], kind: str) -> str:
    if not body.get("model_name"):
        return "model_name is required"
    if body.get("duration", "5") not in ("5", "10"):
        return "duration must be \"5\" or \"10\""
    if body.get("mode", "std") not in ("std", "pro"):
        return "mode must be std or pro"
    cfg = body.get("cfg_scale")
    if cfg is not None and not (isinstance(cfg, int | float) and 0 <= cfg <= 1):
        return "cfg_scale must be between 0 and 1"
    if kind == "image2video":
        image = body.get("image")
        if not isinstance(image, str) or not image:
            return "image is required"
        if not image.startswith("http"):
            try:
                base64.b64decode(image, validate=True)
            except binascii.Error:
                return "image must be base64 (without a data: prefix) or a URL"
    elif not body.get("prompt"):
        return "prompt is required"
    return ""


def _error(status: int, code: int, message: str) -> Response:
    return json_response({"code": code, "message": message, "request_id": "fake"}, status)
