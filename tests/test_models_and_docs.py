from __future__ import annotations

from tests.support.server import RunningServer

ROUTE_IDS = [
    "kwaivgi/kling-v2.5-turbo-std/image-to-video",
    "kwaivgi/kling-v2.5-turbo-pro/image-to-video",
    "kwaivgi/kling-v2.6-std/image-to-video",
    "kwaivgi/kling-v2.6-pro/image-to-video",
    "kwaivgi/kling-v3.0-std/image-to-video",
    "kwaivgi/kling-v3.0-pro/image-to-video",
]


def test_models_lists_every_route_with_schema_and_engine(api_server: RunningServer) -> None:
    response = api_server.client.get("/api/v3/models")
    assert response.status_code == 200
    models = {model["id"]: model for model in response.json()["data"]}
    assert sorted(models) == sorted(ROUTE_IDS)
    for model in models.values():
        assert model["endpoint"] == "/api/v3/" + model["id"]
        properties = model["schema"]["properties"]
        assert {"prompt", "negative_prompt", "image", "sound", "aspect_ratio", "duration",
                "guidance_scale"} <= set(properties)
        assert model["schema"]["required"] == ["prompt"]
        engine = model["engine"]
        assert engine["name"] == "motion"
        assert engine["capabilities"]["generative"] is False, "motion is never presented as generative"
        assert "no generative model" in engine["description"]
        assert engine["capabilities"]["sound"] is False
    assert "multi_prompt" in models[ROUTE_IDS[4]]["schema"]["properties"]
    assert "multi_prompt" not in models[ROUTE_IDS[0]]["schema"]["properties"]
    assert "voice_list" in models[ROUTE_IDS[2]]["schema"]["properties"]
    assert "end_image" in models[ROUTE_IDS[1]]["schema"]["properties"]
    duration = models[ROUTE_IDS[0]]["schema"]["properties"]["duration"]
    assert (duration["minimum"], duration["maximum"], duration["default"]) == (3, 15, 5)


def test_health_openapi_and_docs(api_server: RunningServer) -> None:
    assert api_server.client.get("/healthz").json()["status"] == "ok"
    spec = api_server.client.get("/openapi.json").json()
    for route_id in ROUTE_IDS:
        operation = spec["paths"]["/api/v3/" + route_id]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.split("/")[-1] in spec["components"]["schemas"]
    assert "/api/v3/predictions/{prediction_id}/result" in spec["paths"]
    docs = api_server.client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
