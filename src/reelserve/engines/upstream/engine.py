"""The upstream engine: a route's jobs run on a hosted provider (v3, Kling, fal, Replicate), and their
output is copied into reelserve's storage by the worker like any other video.

A job: its inputs sent as the provider takes them, submitted, polled until it ends (429s waited out
within the job's time limit), cancelled upstream when reelserve stops it or gives up on it, its output
fetched with the server's SSRF-checked client into a file the worker checks and stores.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from reelserve.engines.base import (
    EncodedVideo,
    EngineCapabilities,
    EngineError,
    EngineTimedOut,
    GenerationRequest,
    ProgressCallback,
    ProviderReport,
    StopCheck,
)
from reelserve.engines.registry import EngineContext
from reelserve.engines.upstream.calls import ProviderCalls
from reelserve.engines.upstream.errors import Redactor, UpstreamFailure, failed, malformed, refused
from reelserve.engines.upstream.fal import FalProvider
from reelserve.engines.upstream.inputs import job_input
from reelserve.engines.upstream.kling import KlingProvider
from reelserve.engines.upstream.options import UpstreamOptions
from reelserve.engines.upstream.provider import JobState, ProviderAdapter, ProviderJob
from reelserve.engines.upstream.replicate import ReplicateProvider
from reelserve.engines.upstream.v3 import V3Provider
from reelserve.errors import InputError
from reelserve.media.image import ImageFacts
from reelserve.net.fetch import fetch_to_file
from reelserve.net.provider_http import ProviderHttp

log = logging.getLogger(__name__)

CANCEL_TIMEOUT_SECONDS = 10.0


class UpstreamEngine:
    name = "upstream"

    def __init__(self, options: UpstreamOptions, context: EngineContext) -> None:
        self.options = options
        self.provider_name = options.provider
        self.model = options.model
        self._context = context
        self._label = options.label
        self._http = ProviderHttp(options.resolved_base_url, options.request_timeout_seconds)
        self._redactor = Redactor()
        self._adapter: ProviderAdapter | None = None
        caps = options.capabilities
        self.capabilities = EngineCapabilities(
            generative=True, sound=caps.sound, voices=False, encoded_output=True, end_frame=caps.end_frame,
            text_to_video=caps.text_to_video, multi_prompt=caps.multi_prompt,
        )

    def start(self) -> None:
        """Reads the credential from its environment variable; EngineError naming the variable if unset."""
        if self._adapter is None:
            self._adapter = self._build_adapter()

    def check(self, request: GenerationRequest[ImageFacts]) -> None:
        if request.voice_samples:
            raise InputError(f"{self._label} cannot use reelserve's custom voices", param="voice_list")

    def close(self) -> None:
        self._http.close()

    def generate(
        self, request: GenerationRequest, progress: ProgressCallback, should_stop: StopCheck
    ) -> EncodedVideo:
        self.start()
        adapter = self._adapter
        assert adapter is not None
        limit = min(self.options.timeout_seconds, request.time_limit_seconds or float("inf"))
        calls = ProviderCalls(
            self._http, adapter.headers, self._label, self._redactor, time.monotonic() + limit, should_stop,
            self.options.request_timeout_seconds, adapter.retryable, provider=self.provider_name,
        )
        given = job_input(
            request, self._context.param_wire_names, adapter.renames, self.options.input, self._context.route_params
        )
        body = adapter.build_input(request, given, calls)
        job = adapter.submit(calls, body, request)
        log.info("%s accepted job %s", self._label, job.id)
        progress(0.05)
        try:
            state = self._wait(adapter, calls, job, progress, limit)
        except BaseException:
            self._cancel(adapter, calls, job)
            raise
        if state.error is not None:
            raise refused(self._label, state.error) if state.refused else failed(self._label, state.error)
        if not state.output_urls:
            raise malformed(self._label, "the job ended without an output")
        path = self._download(state.output_urls[0])
        progress(0.95)
        report = ProviderReport(
            provider=self.provider_name, model=self.model, job_id=job.id, cost=state.cost,
            cost_unit=state.cost_unit, timings_ms=dict(state.timings_ms),
        )
        return EncodedVideo(path=path, has_nsfw_contents=state.has_nsfw_contents, provider=report)

    def _wait(
        self, adapter: ProviderAdapter, calls: ProviderCalls, job: ProviderJob, progress: ProgressCallback,
        limit: float,
    ) -> JobState:
        state = job.initial
        while True:
            if state is None:
                state = adapter.poll(calls, job)
            if state.finished:
                return state
            if state.progress is not None:
                progress(0.05 + 0.85 * max(0.0, min(1.0, state.progress)))
            if time.monotonic() + self.options.poll_interval_seconds > calls.deadline:
                raise EngineTimedOut(f"{self._label} did not finish the job within {limit:g} s")
            calls.wait(self.options.poll_interval_seconds)
            state = None

    def _cancel(self, adapter: ProviderAdapter, calls: ProviderCalls, job: ProviderJob) -> None:
        """Best effort: the provider is told to stop a job reelserve no longer wants."""
        if not adapter.supports_cancel:
            log.info("%s has no cancel; job %s is left to end there", self._label, job.id)
            return
        cancelling = ProviderCalls(
            calls.http, adapter.headers, self._label, self._redactor,
            time.monotonic() + CANCEL_TIMEOUT_SECONDS, lambda: False, CANCEL_TIMEOUT_SECONDS,
            provider=self.provider_name,
        )
        taken = adapter.cancel(cancelling, job)
        log.info("cancel of job %s forwarded to %s: %s", job.id, self._label, "accepted" if taken else "not accepted")

    def _download(self, url: str) -> Path:
        policy = replace(
            self._context.fetch_policy,
            max_bytes=self.options.max_output_bytes,
            timeout_seconds=self.options.download_timeout_seconds,
        )
        handle, name = tempfile.mkstemp(prefix="reelserve-upstream-", suffix=".mp4")
        os.close(handle)
        try:
            fetch_to_file(url, policy, Path(name), param="output")
        except InputError as exc:
            Path(name).unlink(missing_ok=True)
            raise UpstreamFailure(f"could not copy the output of {self._label}: {self._redactor.clean(exc)}") from None
        return Path(name)

    def _build_adapter(self) -> ProviderAdapter:
        options = self.options
        if options.provider == "kling":
            access, secret = self._credential(options.access_key_env), self._credential(options.secret_key_env)
            return KlingProvider(options.model, access, secret, self._label, options.input.fixed.keys())
        key = self._credential(options.api_key_env)
        if options.provider == "v3":
            return V3Provider(options.model, key, self._label, bare_key=options.auth_header == "raw")
        if options.provider == "fal":
            return FalProvider(options.model, key, self._label)
        return ReplicateProvider(options.model, options.version, key, self._label, options.prefer_wait_seconds)

    def _credential(self, variable: str | None) -> str:
        environ: Any = self._context.environ if self._context.environ is not None else os.environ
        value = environ.get(variable or "", "")
        if not value.strip():
            raise EngineError(f"{self._label}: the environment variable {variable} (its credential) is not set")
        self._redactor.add(value.strip())
        return value.strip()
