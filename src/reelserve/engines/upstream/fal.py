"""fal's queue API, from its public documentation:

- submit: `POST https://queue.fal.run/{model_id}` with the input as JSON, `Authorization: Key KEY`; the
  answer `{request_id, status_url, response_url, cancel_url}`.
- status: `GET .../requests/{request_id}/status` -> `{status: IN_QUEUE | IN_PROGRESS | COMPLETED,
  queue_position, response_url, metrics: {inference_time}}` (status and result live under the model's
  app id, its first two path segments, without any sub-path).
- result: `GET .../requests/{request_id}`: the model's output (`video.url` for video models, and
  `has_nsfw_concepts` where the model checks); a failed request answers an error status with
  `{"detail": [{"loc", "msg", "type"}]}`, `type` `content_policy_violation` for a refusal (HTTP 422).
- cancel: `PUT .../requests/{request_id}/cancel` -> 202 `CANCELLATION_REQUESTED` (400 `ALREADY_COMPLETED`).
- files: inputs may be data URIs (`image_url` for the image).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reelserve.engines.base import GenerationRequest
from reelserve.engines.upstream.calls import ProviderCalls
from reelserve.engines.upstream.errors import failed, malformed, refused
from reelserve.engines.upstream.inputs import JobInput, data_uri
from reelserve.engines.upstream.provider import JobState, ProviderJob, as_int_ms, first_text
from reelserve.net.provider_http import ProviderAnswer


class FalProvider:
    name = "fal"
    supports_cancel = True
    renames: Mapping[str, str] = {"image": "image_url", "end_image": "end_image_url", "last_image": "end_image_url"}

    def __init__(self, model: str, api_key: str, label: str) -> None:
        self.model = model.strip("/")
        self.app_id = "/".join(self.model.split("/")[:2])
        self._api_key = api_key
        self.label = label

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Key {self._api_key}"}

    def retryable(self, answer: ProviderAnswer) -> bool:
        return answer.status == 429

    def build_input(self, request: GenerationRequest, job_input: JobInput, calls: ProviderCalls) -> dict[str, Any]:
        body = dict(job_input.params)
        body.update({name: data_uri(data) for name, data in job_input.images.items()})
        return body

    def submit(self, calls: ProviderCalls, body: dict[str, Any], request: GenerationRequest) -> ProviderJob:
        answer = calls.send("POST", self.model, json_body=body)
        data = self._ok(calls, answer)
        request_id = data.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise malformed(self.label, "the queue answer has no request_id")
        base = f"{self.app_id}/requests/{request_id}"
        return ProviderJob(
            request_id,
            poll_url=self._same_origin(calls, data.get("status_url"), f"{base}/status"),
            result_url=self._same_origin(calls, data.get("response_url"), base),
            cancel_url=self._same_origin(calls, data.get("cancel_url"), f"{base}/cancel"),
        )

    def poll(self, calls: ProviderCalls, job: ProviderJob) -> JobState:
        status = self._ok(calls, calls.send("GET", job.poll_url))
        state = status.get("status")
        if state in ("IN_QUEUE", "IN_PROGRESS"):
            return JobState(False, progress=0.5 if state == "IN_PROGRESS" else None)
        if state != "COMPLETED":
            raise malformed(self.label, f"unknown queue status {calls.redactor.clean(state)!r}")
        metrics = status.get("metrics") if isinstance(status.get("metrics"), dict) else {}
        inference = as_int_ms(metrics.get("inference_time"))
        timings = {"inference": inference} if inference is not None else {}
        result_url = self._same_origin(calls, status.get("response_url"), job.result_url or "")
        answer = calls.send("GET", result_url)
        if not answer.ok:
            error = _detail(answer.data)
            message = calls.redactor.clean(first_text(error.get("msg"), answer.text()))
            return JobState(True, error=f"HTTP {answer.status}: {message}",
                            refused=error.get("type") == "content_policy_violation", timings_ms=timings)
        if not isinstance(answer.data, dict):
            raise malformed(self.label, "the result is not a JSON object")
        url = _video_url(answer.data)
        if url is None:
            raise malformed(self.label, "the result has no video URL (video.url)")
        flags = answer.data.get("has_nsfw_concepts")
        flagged = isinstance(flags, list) and any(flag is True for flag in flags)
        return JobState(True, output_urls=[url], has_nsfw_contents=flagged, timings_ms=timings)

    def cancel(self, calls: ProviderCalls, job: ProviderJob) -> bool:
        answer = calls.send_once("PUT", job.cancel_url or f"{self.app_id}/requests/{job.id}/cancel")
        return answer is not None and answer.status in (200, 202)

    def _ok(self, calls: ProviderCalls, answer: ProviderAnswer) -> dict[str, Any]:
        if answer.ok and isinstance(answer.data, dict):
            return answer.data
        if answer.ok:
            raise malformed(self.label, "the queue answer is not a JSON object")
        error = _detail(answer.data)
        message = calls.redactor.clean(first_text(error.get("msg"), answer.text()))
        if error.get("type") == "content_policy_violation":
            raise refused(self.label, message)
        if answer.status in (401, 403):
            raise failed(self.label, f"it refused reelserve's credentials (HTTP {answer.status}): {message}")
        raise failed(self.label, f"HTTP {answer.status}: {message}")

    @staticmethod
    def _same_origin(calls: ProviderCalls, url: Any, fallback: str) -> str:
        return url if isinstance(url, str) and calls.http.same_origin(url) else fallback


def _detail(body: Any) -> dict[str, Any]:
    """The first error object of fal's `{"detail": [...]}` (or `{"detail": "text"}`)."""
    if not isinstance(body, dict):
        return {}
    detail = body.get("detail")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return detail[0]
    if isinstance(detail, str):
        return {"msg": detail}
    return {}


def _video_url(result: dict[str, Any]) -> str | None:
    video = result.get("video")
    if isinstance(video, dict) and isinstance(video.get("url"), str):
        return video["url"]
    videos = result.get("videos")
    if isinstance(videos, list) and videos and isinstance(videos[0], dict) and isinstance(videos[0].get("url"), str):
        return videos[0]["url"]
    return None
