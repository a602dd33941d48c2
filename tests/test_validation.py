"""Every rule of the seed's parameter table answers 400 in the error envelope, naming the parameter."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SEED_ROUTE
from tests.support.server import RunningServer

V25_PRO = "kwaivgi/kling-v2.5-turbo-pro/image-to-video"
V26_STD = "kwaivgi/kling-v2.6-std/image-to-video"
V30_STD = "kwaivgi/kling-v3.0-std/image-to-video"


def assert_invalid(response: Any, param: str | None, fragment: str = "") -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 400
    assert body["data"] is None
    assert body["error"]["type"] == "invalid_request_error"
    assert body["message"] == body["error"]["message"]
    if param is not None:
        assert body["error"].get("param") == param, body
    assert fragment.lower() in body["message"].lower(), body["message"]
    return body


def segments(*durations: Any) -> list[dict[str, Any]]:
    return [{"index": i + 1, "prompt": f"scene {i + 1}", "duration": d} for i, d in enumerate(durations)]


CASES: list[tuple[str, str, dict[str, Any], str | None, str]] = [
    ("prompt missing", SEED_ROUTE, {"image": "IMG"}, "prompt", "required"),
    ("prompt blank", SEED_ROUTE, {"prompt": "   ", "image": "IMG"}, "prompt", "empty"),
    ("prompt not a string", SEED_ROUTE, {"prompt": 5, "image": "IMG"}, "prompt", "string"),
    ("prompt too long", SEED_ROUTE, {"prompt": "a" * 2501, "image": "IMG"}, "prompt", "2500"),
    ("negative too long", SEED_ROUTE, {"prompt": "p", "negative_prompt": "n" * 2501, "image": "IMG"},
     "negative_prompt", "2500"),
    ("duration too short", SEED_ROUTE, {"prompt": "p", "duration": 2, "image": "IMG"}, "duration", "3"),
    ("duration too long", SEED_ROUTE, {"prompt": "p", "duration": 16, "image": "IMG"}, "duration", "15"),
    ("duration fraction", SEED_ROUTE, {"prompt": "p", "duration": 5.5, "image": "IMG"}, "duration", "integer"),
    ("duration word", SEED_ROUTE, {"prompt": "p", "duration": "five", "image": "IMG"}, "duration", "integer"),
    ("duration bool", SEED_ROUTE, {"prompt": "p", "duration": True, "image": "IMG"}, "duration", "integer"),
    ("aspect ratio unknown", SEED_ROUTE, {"prompt": "p", "aspect_ratio": "4:3", "image": "IMG"},
     "aspect_ratio", "16:9"),
    ("guidance below", SEED_ROUTE, {"prompt": "p", "guidance_scale": -0.1, "image": "IMG"},
     "guidance_scale", "0"),
    ("guidance above", SEED_ROUTE, {"prompt": "p", "guidance_scale": 1.5, "image": "IMG"},
     "guidance_scale", "1"),
    ("cfg_scale alias checked", SEED_ROUTE, {"prompt": "p", "cfg_scale": 2, "image": "IMG"},
     "cfg_scale", "1"),
    ("sound not bool", SEED_ROUTE, {"prompt": "p", "sound": "loud", "image": "IMG"}, "sound", "bool"),
    ("multi_prompt before v3.0", SEED_ROUTE, {"prompt": "p", "multi_prompt": segments("5"), "image": "IMG"},
     "multi_prompt", "not supported"),
    ("voice_list before v2.6", SEED_ROUTE, {"prompt": "p", "voice_list": ["1"], "image": "IMG"},
     "voice_list", "not supported"),
    ("end frame on std", SEED_ROUTE, {"prompt": "p", "end_image": "IMG", "image": "IMG"},
     "end_image", "not supported"),
    ("image_tail alias on std", SEED_ROUTE, {"prompt": "p", "image_tail": "IMG", "image": "IMG"},
     "image_tail", "not supported"),
    ("multi_prompt on v2.6", V26_STD, {"prompt": "p", "multi_prompt": segments("5"), "image": "IMG"},
     "multi_prompt", "not supported"),
    ("segments out of order", V30_STD,
     {"prompt": "p", "image": "IMG", "multi_prompt": [{"index": 2, "prompt": "a", "duration": "2"},
                                                      {"index": 1, "prompt": "b", "duration": "3"}]},
     "multi_prompt[0].index", "in order"),
    ("segment index from 0", V30_STD,
     {"prompt": "p", "image": "IMG", "multi_prompt": [{"index": 0, "prompt": "a", "duration": "5"}]},
     "multi_prompt[0].index", "1"),
    ("segment without prompt", V30_STD,
     {"prompt": "p", "image": "IMG", "multi_prompt": [{"index": 1, "duration": "5"}]},
     "multi_prompt[0].prompt", "required"),
    ("segment without duration", V30_STD,
     {"prompt": "p", "image": "IMG", "multi_prompt": [{"index": 1, "prompt": "a"}]},
     "multi_prompt[0].duration", "required"),
    ("segment duration not a number", V30_STD,
     {"prompt": "p", "image": "IMG", "multi_prompt": [{"index": 1, "prompt": "a", "duration": "long"}]},
     "multi_prompt[0].duration", "number"),
    ("segments do not add up", V30_STD,
     {"prompt": "p", "image": "IMG", "duration": 5, "multi_prompt": segments("2", "2")},
     "multi_prompt", "add up to 4"),
    ("empty multi_prompt", V30_STD, {"prompt": "p", "image": "IMG", "multi_prompt": []},
     "multi_prompt", "at least 1"),
    ("three voices", V26_STD, {"prompt": "p", "image": "IMG", "voice_list": ["1", "2", "3"]},
     "voice_list", "at most 2"),
    ("voices without sound", V26_STD, {"prompt": "p", "image": "IMG", "sound": False, "voice_list": ["1"]},
     "voice_list", "sound"),
    ("voice entry malformed", V26_STD, {"prompt": "p", "image": "IMG", "voice_list": [{"id": "1"}]},
     "voice_list[0].voice_id", "required"),
    ("no image, motion engine", SEED_ROUTE, {"prompt": "p", "aspect_ratio": "16:9"}, "image", "needs an image"),
    ("sound true, motion engine", SEED_ROUTE, {"prompt": "p", "sound": True, "image": "IMG"},
     "sound", "no sound"),
    ("end frame, motion engine", V25_PRO, {"prompt": "p", "end_image": "IMG", "image": "IMG"},
     "end_image", "end frame"),
    ("voice that does not exist", V26_STD, {"prompt": "p", "voice_list": ["1"], "image": "IMG"},
     "voice_list[0].voice_id", "no voice 1"),
]


@pytest.mark.parametrize(("route", "body", "param", "fragment"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_rule_answers_400(
    api_server: RunningServer, image_url: str, route: str, body: dict[str, Any], param: str, fragment: str
) -> None:
    filled = {key: (image_url if value == "IMG" else value) for key, value in body.items()}
    assert_invalid(api_server.submit(route, filled), param, fragment)


def test_seed_defaults_and_aliases_are_accepted(api_server: RunningServer, image_url: str) -> None:
    response = api_server.submit(
        V30_STD,
        {"prompt": "pan left", "image": image_url, "duration": "7", "cfg_scale": 0.5,
         "multi_prompt": segments("3", 4), "unknown_field": "ignored"},
    )
    assert response.status_code == 200, response.text
    params = response.json()["data"]["input"]
    assert params["duration"] == 7
    assert params["guidance_scale"] == 0.5
    assert params["aspect_ratio"] == "16:9"
    assert params["sound"] is False, "sound defaults to what the engine makes; motion makes none"
    assert [s["duration"] for s in params["multi_prompt"]] == ["3", "4"]
    assert "unknown_field" not in params


@pytest.mark.parametrize(
    ("content", "content_type", "fragment"),
    [
        (b"{not json", "application/json", "not valid JSON"),
        (b"", "application/json", "empty"),
        (b"[1, 2]", "application/json", "JSON object"),
        (b"prompt=hi", "application/x-www-form-urlencoded", "application/json"),
        (b"\xff\xfe", "application/json", "not valid JSON"),
    ],
)
def test_malformed_bodies_answer_400(
    api_server: RunningServer, content: bytes, content_type: str, fragment: str
) -> None:
    response = api_server.client.post(
        f"/api/v3/{SEED_ROUTE}", content=content, headers={"Content-Type": content_type}
    )
    assert_invalid(response, None, fragment)


def test_oversized_body_answers_400(api_server: RunningServer) -> None:
    limit = api_server.runtime.settings.max_body_bytes
    response = api_server.client.post(
        f"/api/v3/{SEED_ROUTE}", content=b"{" + b" " * (limit + 1) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert_invalid(response, None, "limit")


def test_unreachable_image_is_a_clear_400(api_server: RunningServer, file_server: Any) -> None:
    response = api_server.submit(SEED_ROUTE, {"prompt": "p", "image": file_server.origin + "/missing.png"})
    assert_invalid(response, "image", "404")


def test_unknown_route_is_404_in_envelope(api_server: RunningServer) -> None:
    response = api_server.client.post("/api/v3/kwaivgi/kling-v9/image-to-video", json={"prompt": "p"})
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == 404 and body["error"]["type"] == "not_found" and body["data"] is None
