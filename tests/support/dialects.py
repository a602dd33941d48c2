"""The error shapes of the wire dialects, as their clients read them, and which one a path answers in."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.hostile import assert_error_envelope


def assert_openai_error(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    """OpenAI's error object: `{"error": {"message", "type", "param", "code"}}`, as a 4xx."""
    _assert_json_4xx(response, status)
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str), error
    assert error["param"] is None or isinstance(error["param"], str), error
    assert error["code"] is None or isinstance(error["code"], str), error
    return error


def assert_unified_error(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    """GPTProto's unified error response: `{"error": {"message", "code"}}` (with reelserve's type and param)."""
    _assert_json_4xx(response, status)
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["code"], int) and not isinstance(error["code"], bool), error
    assert error["code"] == response.status_code or (error["code"] == 503 and response.status_code == 400), error
    assert set(error) <= {"message", "code", "type", "param"}, error
    return error


def assert_refusal_in_its_shape(path: str, response: httpx.Response) -> None:
    """A 4xx in the shape of the dialect whose path this is: OpenAI's at /v1 and under it, GPTProto's unified
    at /api/v3/videos and /api/v3/tasks and under them, v3's envelope everywhere else. (A client may send dot
    segments, which httpx removes: `/v1/videos/..` is `/v1`.)"""
    if path == "/v1" or path.startswith("/v1/"):
        assert_openai_error(response)
    elif path in ("/api/v3/videos", "/api/v3/tasks") or path.startswith(("/api/v3/videos/", "/api/v3/tasks/")):
        assert_unified_error(response)
    else:
        assert_error_envelope(response)


def _assert_json_4xx(response: httpx.Response, status: int | None) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    if status is not None:
        assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
