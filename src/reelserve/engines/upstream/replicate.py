"""Replicate's predictions API, from its public documentation:

- submit: `POST /v1/models/{owner}/{name}/predictions` with `{"input": {...}}` (or `POST /v1/predictions`
  with `{"version": ID, "input": {...}}`), `Authorization: Bearer TOKEN`, `Prefer: wait=N` to hold the
  answer up to N seconds for a quick result; the answer is the prediction: `{id, status, output, error,
  metrics: {predict_time, total_time}, urls: {get, cancel}}`.
- status: starting | processing | succeeded | failed | canceled | aborted; `output` a URL (or a list).
- poll: `GET urls.get` (`/v1/predictions/{id}`); cancel: `POST urls.cancel` (`/v1/predictions/{id}/cancel`).
- files: a data URI for small files; larger ones are uploaded with `POST /v1/files` (multipart field
  `content`), whose `urls.get` is then the input.
- a refusal is a failed prediction whose error says the input or output was flagged as sensitive (E005).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reelserve.engines.base import GenerationRequest
from reelserve.engines.upstream.calls import ProviderCalls
from reelserve.engines.upstream.errors import failed, malformed, refused, sounds_like_a_refusal
from reelserve.engines.upstream.inputs import JobInput, data_uri
from reelserve.engines.upstream.provider import JobState, ProviderJob, as_int_ms, first_text
from reelserve.net.provider_http import ProviderAnswer

LARGEST_DATA_URI_BYTES = 256 * 1024
RUNNING = frozenset({"starting", "processing"})
ENDED_WITHOUT_OUTPUT = frozenset({"failed", "canceled", "aborted"})


class ReplicateProvider:
    name = "replicate"
    supports_cancel = True
    renames: Mapping[str, str] = {}

    def __init__(self, model: str, version: str | None, api_token: str, label: str, prefer_wait_seconds: int) -> None:
        self.model = model.strip("/")
        self.version = version
        self._api_token = api_token
        self.label = label
        self.prefer_wait_seconds = prefer_wait_seconds

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._api_token}"}

    def retryable(self, answer: ProviderAnswer) -> bool:
        return answer.status == 429

    def build_input(self, request: GenerationRequest, job_input: JobInput, calls: ProviderCalls) -> dict[str, Any]:
        body = dict(job_input.params)
        for name, data in job_input.images.items():
            body[name] = data_uri(data) if len(data) <= LARGEST_DATA_URI_BYTES else self._upload(calls, name, data)
        return body

    def submit(self, calls: ProviderCalls, body: dict[str, Any], request: GenerationRequest) -> ProviderJob:
        if self.version:
            path, payload = "v1/predictions", {"version": self.version, "input": body}
        else:
            path, payload = f"v1/models/{self.model}/predictions", {"input": body}
        answer = calls.send(
            "POST", path, json_body=payload, extra_headers={"Prefer": f"wait={self.prefer_wait_seconds}"}
        )
        prediction = self._prediction(calls, answer)
        prediction_id = prediction.get("id")
        if not isinstance(prediction_id, str) or not prediction_id:
            raise malformed(self.label, "the prediction has no id")
        urls = prediction.get("urls") if isinstance(prediction.get("urls"), dict) else {}
        job = ProviderJob(
            prediction_id,
            poll_url=_same_origin(calls, urls.get("get"), f"v1/predictions/{prediction_id}"),
            cancel_url=_same_origin(calls, urls.get("cancel"), f"v1/predictions/{prediction_id}/cancel"),
        )
        job.initial = self._state(calls, prediction)
        return job

    def poll(self, calls: ProviderCalls, job: ProviderJob) -> JobState:
        return self._state(calls, self._prediction(calls, calls.send("GET", job.poll_url)))

    def cancel(self, calls: ProviderCalls, job: ProviderJob) -> bool:
        answer = calls.send_once("POST", job.cancel_url or f"v1/predictions/{job.id}/cancel")
        return answer is not None and answer.ok

    def _state(self, calls: ProviderCalls, prediction: dict[str, Any]) -> JobState:
        status = prediction.get("status")
        if status in RUNNING:
            return JobState(False, progress=0.5 if status == "processing" else None)
        metrics = prediction.get("metrics") if isinstance(prediction.get("metrics"), dict) else {}
        timings = {
            name: ms for name, ms in (("predict", as_int_ms(metrics.get("predict_time"))),
                                      ("total", as_int_ms(metrics.get("total_time")))) if ms is not None
        }
        if status in ENDED_WITHOUT_OUTPUT:
            message = calls.redactor.clean(first_text(prediction.get("error"), f"the prediction ended {status}"))
            return JobState(True, error=message, refused=sounds_like_a_refusal(message) or "E005" in message,
                            timings_ms=timings)
        if status != "succeeded":
            raise malformed(self.label, f"unknown prediction status {calls.redactor.clean(status)!r}")
        url = _output_url(prediction.get("output"))
        if url is None:
            raise malformed(self.label, "a succeeded prediction without an output URL")
        return JobState(True, output_urls=[url], timings_ms=timings)

    def _prediction(self, calls: ProviderCalls, answer: ProviderAnswer) -> dict[str, Any]:
        body = answer.data
        if answer.ok and isinstance(body, dict):
            return body
        if answer.ok:
            raise malformed(self.label, "the prediction is not a JSON object")
        message = calls.redactor.clean(
            first_text(body.get("detail"), body.get("title")) if isinstance(body, dict) else answer.text()
        )
        if answer.status in (401, 403):
            raise failed(self.label, f"it refused reelserve's credentials (HTTP {answer.status}): {message}")
        if sounds_like_a_refusal(message) or "E005" in message:
            raise refused(self.label, message)
        raise failed(self.label, f"HTTP {answer.status}: {message}")

    def _upload(self, calls: ProviderCalls, name: str, data: bytes) -> str:
        answer = calls.send("POST", "v1/files", files={"content": (f"{name}.jpg", data, "image/jpeg")})
        uploaded = self._prediction(calls, answer)
        urls = uploaded.get("urls") if isinstance(uploaded.get("urls"), dict) else {}
        url = urls.get("get")
        if not isinstance(url, str) or not url:
            raise malformed(self.label, "the file upload answer has no urls.get")
        return url


def _same_origin(calls: ProviderCalls, url: Any, fallback: str) -> str:
    return url if isinstance(url, str) and calls.http.same_origin(url) else fallback


def _output_url(output: Any) -> str | None:
    if isinstance(output, str) and output:
        return output
    if isinstance(output, list) and output and isinstance(output[0], str):
        return output[0]
    if isinstance(output, dict):
        for value in output.values():
            found = _output_url(value)
            if found is not None:
                return found
    return None
