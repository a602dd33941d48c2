"""A fake of fal's queue API as fal documents it (Model APIs: queue, errors).

- `POST /{model_id}[/{subpath}]`, `Authorization: Key KEY`, the input as JSON -> `{"request_id",
  "response_url", "status_url", "cancel_url", "queue_position"}`; status and result live under the app id
  (owner/name) without the sub-path.
- `GET /{app}/requests/{id}/status` -> `{"status": "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED", "queue_position",
  "response_url"}`, with `metrics.inference_time` once completed.
- `GET /{app}/requests/{id}` -> the model's output (`{"video": {"url", "content_type", "file_name",
  "file_size"}, "seed"}`), or an error status with `{"detail": [{"loc", "msg", "type"}]}`; a content
  checker's refusal is HTTP 422, `type` `content_policy_violation`.
- `PUT /{app}/requests/{id}/cancel` -> 202 `{"status": "CANCELLATION_REQUESTED"}`, or 400
  `{"status": "ALREADY_COMPLETED"}`.
- Files may be given as data URIs.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.fake_providers.base import FakeJob, FakeProvider, Recorded, json_response
from tests.support.videos import tiny_mp4


class FakeFal(FakeProvider):
    name = "fal"

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key

    def routes(self) -> list[Route]:
        return [
            Route("/{owner}/{name}/requests/{id}/status", self._status, methods=["GET"]),
            Route("/{owner}/{name}/requests/{id}/cancel", self._cancel, methods=["PUT"]),
            Route("/{owner}/{name}/requests/{id}", self._result, methods=["GET"]),
            Route("/{model:path}", self._submit, methods=["POST"]),
        ]

    def submits(self) -> list[Recorded]:
        return [item for item in self.requests if item.method == "POST"]

    def _unauthorized(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Key {self.api_key}":
            return json_response({"detail": "Invalid Key Authorization header format or key"}, 401)
        return None

    async def _submit(self, request: Request) -> Response:
        recorded = await self.record(request)
        refusal = self._unauthorized(request)
        if refusal is not None:
            return refusal
        if self.take_rate_limit():
            return json_response({"detail": "Too many concurrent requests"}, 429, {"Retry-After": "1"})
        if self.scenario == "server_error":
            return json_response({"detail": "Internal server error"}, 503)
        if self.scenario == "malformed":
            return json_response(["not", "an", "object"])
        body = recorded.json if isinstance(recorded.json, dict) else {}
        if not body.get("prompt"):
            return json_response({"detail": [{"loc": ["body", "prompt"], "msg": "Field required",
                                              "type": "missing"}]}, 422)
        image = body.get("image_url")
        if image is not None and not (isinstance(image, str) and image.startswith(("data:image/", "http"))):
            return json_response({"detail": [{"loc": ["body", "image_url"], "msg": "Invalid image URL",
                                              "type": "file_download_error"}]}, 422)
        owner, name = request.path_params["model"].split("/")[:2]
        job = self.new_job(body)
        base = f"{self.base_url}/{owner}/{name}/requests/{job.id}"
        return json_response({"request_id": job.id, "response_url": base, "status_url": f"{base}/status",
                              "cancel_url": f"{base}/cancel", "queue_position": 0})

    async def _status(self, request: Request) -> Response:
        await self.record(request)
        refusal = self._unauthorized(request)
        if refusal is not None:
            return refusal
        job = self.jobs.get(request.path_params["id"])
        if job is None:
            return json_response({"detail": "Request not found"}, 404)
        job.polls += 1
        response_url = str(request.url).removesuffix("/status").split("?")[0]
        if job.cancelled:
            return json_response({"status": "COMPLETED", "response_url": response_url})
        if not job.done():
            status = "IN_QUEUE" if job.polls == 1 else "IN_PROGRESS"
            return json_response({"status": status, "queue_position": 0, "response_url": response_url})
        return json_response({"status": "COMPLETED", "response_url": response_url, "metrics": {"inference_time": 1.25}})

    async def _result(self, request: Request) -> Response:
        await self.record(request)
        refusal = self._unauthorized(request)
        if refusal is not None:
            return refusal
        job = self.jobs.get(request.path_params["id"])
        if job is None:
            return json_response({"detail": "Request not found"}, 404)
        if job.scenario == "refused":
            return json_response({"detail": [{"loc": ["body", "prompt"], "msg": "The content was flagged by a "
                                               "content checker.", "type": "content_policy_violation",
                                               "input": job.input.get("prompt")}]}, 422)
        if job.scenario == "failed":
            return json_response({"detail": [{"loc": ["body"], "msg": "Generation failed on the runner",
                                              "type": "generation_error"}]}, 400)
        return json_response({"video": self._video(job), "seed": 42})

    async def _cancel(self, request: Request) -> Response:
        await self.record(request)
        refusal = self._unauthorized(request)
        if refusal is not None:
            return refusal
        job = self.jobs.get(request.path_params["id"])
        if job is None:
            return json_response({"detail": "Request not found"}, 404)
        if job.done():
            return json_response({"status": "ALREADY_COMPLETED"}, 400)
        job.cancelled = True
        self.cancelled.append(job.id)
        return json_response({"status": "CANCELLATION_REQUESTED"}, 202)

    def _video(self, job: FakeJob) -> dict[str, object]:
        return {"url": self.output_url(job), "content_type": "video/mp4", "file_name": f"{job.id}.mp4",
                "file_size": len(tiny_mp4())}

