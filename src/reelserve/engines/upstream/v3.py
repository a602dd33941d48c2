"""The v3 predictions protocol (WaveSpeed, GPTProto, and reelserve itself), from WaveSpeed's public docs:

- submit: `POST {base}/api/v3/{model}` with the parameters as JSON, `Authorization: Bearer KEY`; the
  answer is the envelope `{"code": 200, "message": ..., "data": {"id", "urls": {"get"}, "status", ...}}`.
- poll: `GET data.urls.get` (`{base}/api/v3/predictions/{id}/result`) until `status` is `completed` or
  `failed` (also `cancelled`, `timeout`); `data.outputs` are the video URLs, `data.error` the reason,
  `data.has_nsfw_contents` one flag per output, `data.timings.inference` milliseconds.
- local files: `POST {base}/api/v3/media/upload/binary` (multipart field `file`) -> `data.download_url`.
- refusals: HTTP 400 whose body `code` is 503 or whose `error.type` is `content_policy_violation`; a failed
  job whose `code` is 1200 (WaveSpeed's "content moderation").
- cancel: `POST {base}/api/v3/predictions/{id}/cancel` where the provider has it (reelserve does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reelserve.engines.base import GenerationRequest
from reelserve.engines.upstream.calls import ProviderCalls
from reelserve.engines.upstream.errors import failed, malformed, refused, sounds_like_a_refusal
from reelserve.engines.upstream.inputs import JobInput
from reelserve.engines.upstream.provider import JobState, ProviderJob, first_text
from reelserve.net.provider_http import ProviderAnswer

FINISHED = frozenset({"completed", "failed", "cancelled", "canceled", "timeout"})
RUNNING = frozenset({"created", "processing", "pending", "queued", "starting", "running"})
MODERATION_CODES = frozenset({503, 1200})


class V3Provider:
    name = "v3"
    supports_cancel = True
    renames: Mapping[str, str] = {}

    def __init__(self, model: str, api_key: str, label: str, bare_key: bool = False) -> None:
        self.model = model.strip("/")
        self._api_key = api_key
        self.label = label
        self._bare_key = bare_key

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": self._api_key if self._bare_key else f"Bearer {self._api_key}"}

    def retryable(self, answer: ProviderAnswer) -> bool:
        return answer.status == 429

    def build_input(self, request: GenerationRequest, job_input: JobInput, calls: ProviderCalls) -> dict[str, Any]:
        body = dict(job_input.params)
        for name, data in job_input.images.items():
            body[name] = self._upload(calls, name, data)
        return body

    def submit(self, calls: ProviderCalls, body: dict[str, Any], request: GenerationRequest) -> ProviderJob:
        answer = calls.send("POST", f"api/v3/{self.model}", json_body=body)
        data = self._data(calls, answer, "the submit")
        prediction_id = data.get("id")
        if not isinstance(prediction_id, str) or not prediction_id:
            raise malformed(self.label, "the submit answer has no prediction id")
        poll_url = (data.get("urls") or {}).get("get") if isinstance(data.get("urls"), dict) else None
        if not isinstance(poll_url, str) or not calls.http.same_origin(poll_url):
            poll_url = f"api/v3/predictions/{prediction_id}/result"
        return ProviderJob(prediction_id, poll_url, cancel_url=f"api/v3/predictions/{prediction_id}/cancel")

    def poll(self, calls: ProviderCalls, job: ProviderJob) -> JobState:
        answer = calls.send("GET", job.poll_url)
        data = self._data(calls, answer, "the result")
        status = data.get("status")
        if status in RUNNING:
            progress = data.get("progress")
            return JobState(False, progress=progress / 100 if isinstance(progress, int | float) else None)
        if status not in FINISHED:
            raise malformed(self.label, f"unknown status {calls.redactor.clean(status)!r}")
        timings = {
            name: int(value)
            for name, value in (("inference", (data.get("timings") or {}).get("inference")),
                                ("execution", data.get("executionTime")))
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        cost = data.get("price")
        report: dict[str, Any] = {
            "timings_ms": timings,
            "cost": float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
        }
        report["cost_unit"] = "USD" if report["cost"] is not None else None
        if status != "completed":
            message = calls.redactor.clean(first_text(data.get("error"), status))
            is_refusal = data.get("code") in MODERATION_CODES or sounds_like_a_refusal(message)
            return JobState(True, error=message, refused=is_refusal, **report)
        outputs = data.get("outputs")
        if not isinstance(outputs, list) or not outputs or not all(isinstance(url, str) for url in outputs):
            raise malformed(self.label, "a completed prediction without output URLs")
        flags = data.get("has_nsfw_contents")
        flagged = isinstance(flags, list) and any(flag is True for flag in flags)
        return JobState(True, output_urls=list(outputs), has_nsfw_contents=flagged, **report)

    def cancel(self, calls: ProviderCalls, job: ProviderJob) -> bool:
        answer = calls.send_once("POST", job.cancel_url or f"api/v3/predictions/{job.id}/cancel")
        return answer is not None and answer.ok

    def _upload(self, calls: ProviderCalls, name: str, data: bytes) -> str:
        answer = calls.send(
            "POST", "api/v3/media/upload/binary", files={"file": (f"{name}.jpg", data, "image/jpeg")}
        )
        uploaded = self._data(calls, answer, "the upload")
        url = uploaded.get("download_url")
        if not isinstance(url, str) or not url:
            raise malformed(self.label, "the upload answer has no download_url")
        return url

    def _data(self, calls: ProviderCalls, answer: ProviderAnswer, what: str) -> dict[str, Any]:
        body = answer.data
        if not answer.ok:
            message = calls.redactor.clean(self._message(body) or answer.text())
            if answer.status in (401, 403) and not self._is_refusal(body):
                raise failed(self.label, f"it refused reelserve's credentials (HTTP {answer.status}): {message}")
            if self._is_refusal(body):
                raise refused(self.label, message)
            raise failed(self.label, f"HTTP {answer.status}: {message}")
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise malformed(self.label, f"{what} is not the v3 envelope {{code, message, data}}")
        return body["data"]

    @staticmethod
    def _is_refusal(body: Any) -> bool:
        if not isinstance(body, dict):
            return False
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        return body.get("code") in MODERATION_CODES or error.get("type") == "content_policy_violation"

    @staticmethod
    def _message(body: Any) -> str:
        if not isinstance(body, dict):
            return ""
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        return first_text(error.get("message"), body.get("message"))
