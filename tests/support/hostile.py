"""Helpers for tests that send hostile input: the error envelope every refusal must come in, and a server
whose fetches can never leave this machine."""

from __future__ import annotations

import dataclasses
import socket
from typing import Any

import httpx

from reelserve.runtime import Runtime


def refuse_every_name(host: str, port: int) -> list[str]:
    """Hostile URLs must not make the server look names up: no traffic may leave this machine."""
    raise socket.gaierror(f"{host}: name lookups are switched off in this test")


def fetch_nothing(runtime: Runtime) -> None:
    """No fetch of an `image` or `audio` URL can reach any address: no name is resolved, no port allowed.
    URLs are still parsed and judged first, which is what these tests look at."""
    closed = {"resolver": refuse_every_name, "allowed_ports": (), "allow_private": False}
    runtime.predictions.images.policy = dataclasses.replace(runtime.predictions.images.policy, **closed)
    runtime.voices.policy = dataclasses.replace(runtime.voices.policy, **closed)


def assert_error_envelope(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    """A 4xx in the error envelope of DESIGN.md (never a 5xx); the body, for more checks."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    if status is not None:
        assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"code", "message", "data", "error"}, body
    assert body["data"] is None and isinstance(body["message"], str) and body["message"]
    assert body["code"] == response.status_code or (body["code"] == 503 and response.status_code == 400), body
    assert isinstance(body["error"], dict) and isinstance(body["error"]["type"], str), body
    assert body["error"]["message"] == body["message"]
    return body
