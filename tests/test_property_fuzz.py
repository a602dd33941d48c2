"""Property-based tests beside the schemathesis run: arbitrary JSON (numbers past every limit, nesting thousands
deep, odd Unicode, lone surrogates, wrong types) and arbitrary query strings and path parameters, at every route
of the app, over HTTP against a running server. No answer may be a 5xx, and every 4xx comes in the error envelope
(in its own error shape on a wire dialect's paths: tests/support/dialects.py).

The routes are read from the app's own route table when the test runs (hidden ones such as /files included), so
a route added later is fuzzed without touching this file.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fastapi.routing
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reelserve.api.app import create_app
from reelserve.config import Settings
from tests.support.dialects import assert_refusal_in_its_shape
from tests.support.hostile import fetch_nothing
from tests.support.server import ROOMY, RunningServer, ServerThread

EXAMPLES_PER_ROUTE = 10


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    path_params: tuple[str, ...]
    names: tuple[str, ...]
    """Query parameter and body field names this route knows, so that fuzzed values reach its checks."""

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _field_names(value: Any, components: dict[str, Any], found: set[str], seen: set[str]) -> None:
    """Every property name in `value`, following $refs into the document's components."""
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref not in seen:
            seen.add(ref)
            _field_names(components.get(ref.rsplit("/", 1)[-1], {}), components, found, seen)
        for name, inner in value.items():
            if name == "properties" and isinstance(inner, dict):
                found.update(inner)
            _field_names(inner, components, found, seen)
    elif isinstance(value, list):
        for inner in value:
            _field_names(inner, components, found, seen)


def endpoints() -> list[Endpoint]:
    app = create_app(Settings(data_dir=Path(tempfile.mkdtemp()), workers=0))
    document = app.openapi()
    components = document.get("components", {}).get("schemas", {})
    found = []
    # Included routers are nested in the route table; FastAPI's iter_route_contexts flattens it (older FastAPI
    # versions keep every route at the top).
    flatten = getattr(fastapi.routing, "iter_route_contexts", lambda routes: routes)
    for route in flatten(app.routes):
        if not route.methods or not route.path:
            continue
        names: set[str] = set()
        dependant = getattr(route, "dependant", None)
        if dependant is not None:  # hidden routes too, which the OpenAPI document leaves out
            names.update(param.alias for param in dependant.query_params)
        for method in sorted(route.methods):
            operation = document["paths"].get(route.path, {}).get(method.lower(), {})
            _field_names(operation.get("requestBody", {}), components, names, set())
            names.update(parameter["name"] for parameter in operation.get("parameters", []))
            found.append(Endpoint(method, route.path, tuple(route.param_convertors), tuple(sorted(names))))
    assert len(found) > 20, f"the route table looks incomplete: {found}"
    # Routes that read their body themselves document no fields: they get every field name of the API.
    every_name = tuple(sorted({name for endpoint in found for name in endpoint.names} | {"audio", "voice_name"}))
    return [endpoint if endpoint.names else dataclasses.replace(endpoint, names=every_name) for endpoint in found]


ENDPOINTS = endpoints()

# Tokens no Python value serialises to: they are put into the JSON text as they are.
RAW_NUMBERS = ["1" + "0" * 5000, "-" + "9" * 4400, "9" * 4300, "1e400", "-1e400", "1E+1000000", "1e-1000000",
               "-0", "0." + "0" * 3000 + "1", "18446744073709551616", "-9223372036854775809", "NaN", "Infinity"]
RAW_STRINGS = ['"\\ud800"', '"\\udfff tail"', '"\\u0000"', '"\\ud83d\\ude00"', '"' + "\\\\" * 100 + '"']


@dataclass(frozen=True)
class Raw:
    text: str


def to_json(value: Any, ascii_only: bool) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        items = (f"{json.dumps(key, ensure_ascii=ascii_only)}: {to_json(inner, ascii_only)}"
                 for key, inner in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_json(inner, ascii_only) for inner in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)


def nested(depth: int, kind: str) -> Raw:
    if kind == "list":
        return Raw("[" * depth + "]" * depth)
    return Raw('{"a": ' * depth + "1" + "}" * depth)


# Values that broke the server before, and their kin, drawn as often as ordinary ones.
hostile_scalars = st.one_of(
    st.sampled_from(RAW_NUMBERS + RAW_STRINGS).map(Raw),
    st.builds(nested, st.integers(min_value=30, max_value=3000), st.sampled_from(["list", "dict"])),
    st.sampled_from([2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**100, 10**4000, 1e308]),
    st.sampled_from(["", " ", "1E+1000000", "-1e-1000000", "٣", "Infinity", "http://[::1/", "http://" + "1" * 2000,
                     "http://0x" + "f" * 3000 + "/", "sk-" + "a" * 48, "\u202e\u0000\ufeff", "x" * 10_000]),
)
ordinary_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["zoom in", "16:9", "2", "2.5", "5", "kwaivgi/kling-v3.0-std/image-to-video", "a.png",
                     "image/png", "admin"]),
)
scalars = st.one_of(hostile_scalars, ordinary_scalars)


def json_values(names: tuple[str, ...]) -> st.SearchStrategy[Any]:
    keys = st.one_of(st.sampled_from(names), st.text(max_size=12)) if names else st.text(max_size=12)
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=6)),
        max_leaves=12,
    )


def bodies(names: tuple[str, ...]) -> st.SearchStrategy[tuple[bytes, str | None]]:
    values = json_values(names)
    shaped = st.dictionaries(st.sampled_from(names), values, min_size=1, max_size=8) if names else values
    as_json = st.builds(
        lambda value, ascii_only: to_json(value, ascii_only).encode("utf-8", "surrogatepass"),
        st.one_of(shaped, values),
        st.booleans(),
    )
    content_types = st.sampled_from(
        ["application/json", "application/json", "application/json; charset=utf-8", "text/plain",
         "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
    )
    return st.tuples(st.one_of(as_json, as_json, st.binary(max_size=64), st.just(b"")), content_types)


def encoded(text: str) -> str:
    """Percent-encoded UTF-8, lone surrogates written as the invalid bytes they make."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


query_values = st.one_of(
    st.sampled_from(["", "1" * 5000, "-1", "0", "1e9", "NaN", "\u0661\u0667" + "\u0660" * 8, "é" * 64, "%",
                     "%zz", "\u0000", "\ud800", "+1", " 1", "1_0", "0" * 64, "a" * 10_000]),
    st.text(max_size=30),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
)


def query_strings(names: tuple[str, ...]) -> st.SearchStrategy[str]:
    pair = st.tuples(st.one_of(st.sampled_from(names), st.text(max_size=8)) if names else st.text(max_size=8),
                     query_values)
    return st.lists(pair, max_size=5).map(
        lambda pairs: "&".join(f"{encoded(name)}={encoded(value)}" for name, value in pairs)
    )


path_values = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(["x" * 5000, "..", ".", "%2e%2e", "a/../../b", "uploads/x/y", "outputs/a/b.mp4", "0" * 32]),
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, list[str | None]]]:
    data_dir = tmp_path_factory.mktemp("property-fuzz")
    thread = ServerThread(Settings(data_dir=data_dir, workers=0, database_url=f"sqlite:///{data_dir}/fuzz.db"))
    fetch_nothing(thread.runtime)
    server = thread.start()
    admin = thread.runtime.keys.create("admin", role="admin", limits=ROOMY).secret
    yield server, [admin, server.key, None, "sk-unknown", "Bearer \u00e9"]
    thread.stop()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_no_route_answers_5xx_or_a_4xx_outside_the_envelope(
    fuzzed: tuple[RunningServer, list[str | None]], endpoint: Endpoint
) -> None:
    server, keys = fuzzed
    port = int(server.base_url.rsplit(":", 1)[1])

    @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(
        path_params=st.fixed_dictionaries({name: path_values for name in endpoint.path_params}),
        query=query_strings(endpoint.names),
        body=bodies(endpoint.names),
        key=st.sampled_from(keys),
    )
    def check(path_params: dict[str, str], query: str, body: tuple[bytes, str | None], key: str | None) -> None:
        path = endpoint.path
        for name, value in path_params.items():
            path = re.sub(r"\{" + name + r"(:[a-z]+)?\}", lambda _, v=value: encoded(v), path)
        raw_path = (path + ("?" + query if query else "")).encode()
        content, content_type = body
        headers = {"Authorization": key.encode("utf-8")} if key else {}
        if content_type is not None:
            headers["Content-Type"] = content_type.encode()
        url = httpx.URL(scheme="http", host="127.0.0.1", port=port, raw_path=raw_path)
        with_body = endpoint.method not in ("GET", "HEAD")
        response = httpx.request(endpoint.method, url, headers=headers, content=content if with_body else None,
                                 timeout=60)
        if endpoint.path == "/readyz" and response.status_code == 503:
            # This server runs no worker: not ready is the documented answer, with what is missing.
            assert response.json()["status"] == "not_ready" and response.json()["missing"]
            return
        assert response.status_code < 500, f"{endpoint} {raw_path[:200]!r}: {response.text[:500]}"
        if 400 <= response.status_code < 500 and endpoint.method != "HEAD":
            assert_refusal_in_its_shape(response.request.url.path, response)

    check()
