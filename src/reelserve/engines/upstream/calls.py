"""One job's calls to its provider: within the job's deadline, 429s waited out with backoff, 5xx and
silence turned into the job's failure, and a stop request honoured between attempts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from reelserve.engines.base import EngineTimedOut, JobInterrupted, StopCheck
from reelserve.engines.upstream.errors import Redactor, UpstreamFailure
from reelserve.net.provider_http import ForeignOrigin, ProviderAnswer, ProviderHttp, ProviderUnreachable
from reelserve.net.retry_after import retry_after_seconds
from reelserve.observe import metrics

log = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 1.0
LONGEST_BACKOFF_SECONDS = 30.0
STOP_CHECK_SECONDS = 0.2


class ProviderCalls:
    def __init__(
        self,
        http: ProviderHttp,
        headers: Callable[[], Mapping[str, str]],
        label: str,
        redactor: Redactor,
        deadline: float,
        should_stop: StopCheck,
        request_timeout_seconds: float,
        retryable: Callable[[ProviderAnswer], bool] | None = None,
        provider: str = "unknown",
    ) -> None:
        self.http = http
        self.label = label
        self.provider = provider
        """The provider's name in metrics (v3, kling, fal, replicate)."""
        self.redactor = redactor
        self.deadline = deadline
        self._headers = headers
        self._should_stop = should_stop
        self._request_timeout = request_timeout_seconds
        self._retryable = retryable or (lambda answer: answer.status == 429)

    def send(
        self, method: str, path_or_url: str, *, extra_headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> ProviderAnswer:
        """The provider's answer (2xx or 4xx); a 429 is retried until the deadline, a 5xx or no answer
        fails the job."""
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            answer = self._once(method, path_or_url, extra_headers, kwargs)
            if self._retryable(answer):
                wait = retry_after_seconds(answer.headers.get("retry-after"))
                wait = backoff if wait is None else max(wait, 0.1)
                if time.monotonic() + wait > self.deadline:
                    raise EngineTimedOut(
                        f"{self.label} kept answering HTTP {answer.status} (too many requests) until the job's "
                        "time limit"
                    )
                log.info("%s answered HTTP %s; trying again in %.1f s", self.label, answer.status, wait)
                self.wait(wait)
                backoff = min(backoff * 2, LONGEST_BACKOFF_SECONDS)
                continue
            if answer.status >= 500:
                raise UpstreamFailure(
                    f"{self.label} answered HTTP {answer.status}: {self.redactor.clean(answer.text()) or 'no detail'}"
                )
            if 300 <= answer.status < 400:
                raise UpstreamFailure(f"{self.label} answered with a redirect (HTTP {answer.status}), not followed")
            return answer

    def send_once(self, method: str, path_or_url: str, **kwargs: Any) -> ProviderAnswer | None:
        """One attempt with no retry, for best-effort calls (cancel); None where it got no answer."""
        try:
            return self._once(method, path_or_url, None, kwargs)
        except UpstreamFailure as exc:
            log.warning("%s", exc)
            return None

    def wait(self, seconds: float) -> None:
        """Sleep, checking for a stop request; JobInterrupted when one comes."""
        end = time.monotonic() + seconds
        while True:
            if self._should_stop():
                raise JobInterrupted(f"stopped while waiting on {self.label}")
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(STOP_CHECK_SECONDS, left))

    def _once(
        self, method: str, path_or_url: str, extra_headers: Mapping[str, str] | None, kwargs: dict[str, Any]
    ) -> ProviderAnswer:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise EngineTimedOut(f"{self.label} did not finish the job within the job's time limit")
        headers = {**self._headers(), **(extra_headers or {})}
        started = time.monotonic()
        try:
            answer = self.http.request(
                method, path_or_url, headers=headers, timeout_seconds=min(self._request_timeout, left), **kwargs
            )
        except ProviderUnreachable as exc:
            metrics.upstream_call(self.provider, "unreachable", time.monotonic() - started)
            raise UpstreamFailure(f"{self.label}: {self.redactor.clean(exc)}") from None
        except ForeignOrigin as exc:
            metrics.upstream_call(self.provider, "refused", time.monotonic() - started)
            raise UpstreamFailure(f"{self.label} pointed elsewhere; not followed: {self.redactor.clean(exc)}") from None
        metrics.upstream_call(self.provider, _outcome(answer, self._retryable), time.monotonic() - started)
        return answer


def _outcome(answer: ProviderAnswer, retryable: Callable[[ProviderAnswer], bool]) -> str:
    """ok, rate_limited, client_error, server_error or redirect: what one answer was."""
    if retryable(answer):
        return "rate_limited"
    if answer.status >= 500:
        return "server_error"
    if answer.status >= 400:
        return "client_error"
    if answer.status >= 300:
        return "redirect"
    return "ok"
