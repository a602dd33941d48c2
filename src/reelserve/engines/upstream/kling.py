"""Kling's official API, from its public documentation:

- auth: a JWT (HS256) with `iss` = the access key, `exp` = now + 30 min, `nbf` = now - 5 s, signed with the
  secret key, sent as `Authorization: Bearer <token>`.
- submit: `POST /v1/videos/image2video` (`model_name`, `image` and `image_tail` as raw base64 or URL,
  `prompt`, `negative_prompt`, `cfg_scale`, `mode` std|pro, `duration` "5"|"10") or
  `POST /v1/videos/text2video` (with `aspect_ratio`); the answer `{code: 0, message, request_id,
  data: {task_id, task_status, created_at, updated_at}}`.
- poll: `GET /v1/videos/{image2video|text2video}/{task_id}`; `task_status` submitted | processing |
  succeed | failed, `task_status_msg`, `task_result.videos[].url`.
- errors: HTTP 401 codes 1000-1004 (authentication), 429 codes 1100-1104 (account: arrears, resource pack
  depleted), 400 code 1301 (content security policy), 429 codes 1302/1303 (rate and concurrency limits,
  retried), 5xx codes 5000-5002 (server).
- no cancel: a stopped job is left to finish there.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Any

import jwt

from reelserve.engines.base import GenerationRequest
from reelserve.engines.upstream.calls import ProviderCalls
from reelserve.engines.upstream.errors import failed, malformed, refused, sounds_like_a_refusal
from reelserve.engines.upstream.inputs import JobInput, base64_text
from reelserve.engines.upstream.provider import JobState, ProviderJob, first_text
from reelserve.net.provider_http import ProviderAnswer

TOKEN_SECONDS = 1800
TOKEN_RENEW_BEFORE_SECONDS = 120
REFUSAL_CODES = frozenset({1300, 1301})
RETRY_CODES = frozenset({1302, 1303})
FIELDS = frozenset({"prompt", "negative_prompt", "cfg_scale", "mode", "duration"})


class KlingProvider:
    name = "kling"
    supports_cancel = False
    renames: Mapping[str, str] = {"guidance_scale": "cfg_scale", "end_image": "image_tail", "last_image": "image_tail"}

    def __init__(self, model: str, access_key: str, secret_key: str, label: str, extra_fields: Collection[str]) -> None:
        self.model = model
        self._access_key = access_key
        self._secret_key = secret_key
        self.label = label
        self._extra_fields = frozenset(extra_fields)
        self._token: tuple[str, float] | None = None

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._current_token()}"}

    def retryable(self, answer: ProviderAnswer) -> bool:
        if answer.status != 429:
            return False
        return not isinstance(answer.data, dict) or answer.data.get("code") in RETRY_CODES | {None}

    def build_input(self, request: GenerationRequest, job_input: JobInput, calls: ProviderCalls) -> dict[str, Any]:
        params = job_input.params
        allowed = FIELDS | self._extra_fields | ({"aspect_ratio"} if request.image is None else set())
        body: dict[str, Any] = {"model_name": self.model, "mode": "std"}
        body.update({name: value for name, value in params.items() if name in allowed})
        if "duration" in body:
            body["duration"] = str(body["duration"])
        for name, data in job_input.images.items():
            body[name] = base64_text(data)
        return body

    def submit(self, calls: ProviderCalls, body: dict[str, Any], request: GenerationRequest) -> ProviderJob:
        kind = "image2video" if request.image is not None else "text2video"
        data = self._data(calls, calls.send("POST", f"v1/videos/{kind}", json_body=body), "the submit")
        task_id = data.get("task_id")
        if not isinstance(task_id, str | int) or isinstance(task_id, bool) or not str(task_id):
            raise malformed(self.label, "the submit answer has no task_id")
        return ProviderJob(str(task_id), f"v1/videos/{kind}/{task_id}")

    def poll(self, calls: ProviderCalls, job: ProviderJob) -> JobState:
        data = self._data(calls, calls.send("GET", job.poll_url), "the task")
        status = data.get("task_status")
        if status in ("submitted", "processing"):
            return JobState(False, progress=0.5 if status == "processing" else None)
        timings = _timings(data)
        cost = _number(data.get("final_unit_deduction"))
        report: dict[str, Any] = {
            "timings_ms": timings, "cost": cost, "cost_unit": "units" if cost is not None else None,
        }
        if status == "failed":
            message = calls.redactor.clean(first_text(data.get("task_status_msg"), "failed"))
            return JobState(True, error=message, refused=sounds_like_a_refusal(message), **report)
        if status != "succeed":
            raise malformed(self.label, f"unknown task_status {calls.redactor.clean(status)!r}")
        videos = (data.get("task_result") or {}).get("videos") if isinstance(data.get("task_result"), dict) else None
        urls = [video.get("url") for video in videos or [] if isinstance(video, dict)]
        if not urls or not all(isinstance(url, str) and url for url in urls):
            raise malformed(self.label, "a succeeded task without video URLs")
        return JobState(True, output_urls=urls, **report)

    def cancel(self, calls: ProviderCalls, job: ProviderJob) -> bool:
        return False

    def _data(self, calls: ProviderCalls, answer: ProviderAnswer, what: str) -> dict[str, Any]:
        body = answer.data
        code = body.get("code") if isinstance(body, dict) else None
        message = calls.redactor.clean(first_text(body.get("message") if isinstance(body, dict) else None,
                                                  answer.text()))
        if answer.ok and code == 0 and isinstance(body.get("data"), dict):
            return body["data"]
        if code in REFUSAL_CODES:
            raise refused(self.label, message)
        if answer.status == 401 or (isinstance(code, int) and 1000 <= code <= 1004):
            raise failed(self.label, f"it refused reelserve's credentials (code {code}): {message}")
        if isinstance(code, int) and 1100 <= code <= 1199:
            raise failed(self.label, f"its account cannot take jobs (code {code}): {message}")
        if answer.ok:
            raise malformed(self.label, f"{what} is not {{code: 0, data: {{...}}}}")
        raise failed(self.label, f"HTTP {answer.status} code {code}: {message}")

    def _current_token(self) -> str:
        now = time.time()
        if self._token is not None and self._token[1] - now > TOKEN_RENEW_BEFORE_SECONDS:
            return self._token[0]
        expires = int(now) + TOKEN_SECONDS
        claims = {"iss": self._access_key, "exp": expires, "nbf": int(now) - 5}
        token = jwt.encode(claims, self._secret_key, algorithm="HS256", headers={"typ": "JWT"})
        self._token = (token, expires)
        return token


def _timings(data: dict[str, Any]) -> dict[str, int]:
    created, updated = data.get("created_at"), data.get("updated_at")
    if isinstance(created, int) and isinstance(updated, int) and updated >= created:
        return {"total": updated - created}
    return {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
