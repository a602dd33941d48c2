"""Which route a dialect's model name means: route ids, the catalog's aliases (built in and from reelserve.toml),
chosen by the kind of video asked for; and the mistakes in `aliases` that stop the start."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelserve.api.submitting import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, route_for
from reelserve.catalog.bindings import ConfigError, load_route_engines
from tests.conftest import ServerFactory

SEED = "kwaivgi/kling-v2.5-turbo-std/image-to-video"


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "reelserve.toml"
    path.write_text(text)
    return path


def test_the_built_in_kling_slugs_name_the_seed_routes() -> None:
    engines = load_route_engines(None)
    for name in ("kwaivgi/kling-v2.5", "kling/kling-v2.5", "kling/kling-v2.5-turbo-std", SEED):
        assert route_for(engines, name, IMAGE_TO_VIDEO).id == SEED  # type: ignore[union-attr]
    assert route_for(engines, "kling/kling-v3.0-pro", IMAGE_TO_VIDEO).id == (  # type: ignore[union-attr]
        "kwaivgi/kling-v3.0-pro/image-to-video")
    assert route_for(engines, "kwaivgi/kling-v2.5", TEXT_TO_VIDEO).id == SEED, (  # type: ignore[union-attr]
        "the Kling routes take text alone (their image is optional)")
    assert route_for(engines, "sora-2", IMAGE_TO_VIDEO) is None
    assert "kling/kling-v2.5" in engines.route(SEED).aliases  # type: ignore[union-attr]


def test_an_alias_on_an_image_and_a_text_route_is_chosen_by_kind(tmp_path: Path) -> None:
    engines = load_route_engines(config(tmp_path, """
[routes."wavespeed-ai/wan-2.2/i2v-480p"]
engine = "motion"
aliases = ["wan/wan-2.2", "sora-2"]
[routes."wavespeed-ai/wan-2.2/t2v-480p"]
engine = "motion"
aliases = ["wan/wan-2.2"]
"""))
    assert route_for(engines, "wan/wan-2.2", IMAGE_TO_VIDEO).id == "wavespeed-ai/wan-2.2/i2v-480p"  # type: ignore
    assert route_for(engines, "wan/wan-2.2", TEXT_TO_VIDEO).id == "wavespeed-ai/wan-2.2/t2v-480p"  # type: ignore
    assert route_for(engines, "sora-2", TEXT_TO_VIDEO).id == "wavespeed-ai/wan-2.2/i2v-480p", (  # type: ignore
        "the one route of a name is taken, and refuses what it cannot do")
    assert [route.id for route in engines.routes_named("wan/wan-2.2")] == [
        "wavespeed-ai/wan-2.2/i2v-480p", "wavespeed-ai/wan-2.2/t2v-480p"]


@pytest.mark.parametrize(("text", "message"), [
    ('[routes."acme/a"]\nschema = "kling-i2v"\nprice_per_second = 0.01\nengine = "motion"\naliases = "x"\n',
     "aliases: must be a list of names"),
    ('[routes."acme/a"]\nschema = "kling-i2v"\nprice_per_second = 0.01\nengine = "motion"\naliases = ["a b"]\n',
     "'a b' is not a name"),
    ('[routes."acme/a"]\nschema = "kling-i2v"\nprice_per_second = 0.01\nengine = "motion"\n'
     f'aliases = ["{SEED}"]\n', "is the id of another route"),
    ('[routes."acme/a"]\nschema = "kling-i2v"\nprice_per_second = 0.01\nengine = "motion"\n'
     'aliases = ["kling/kling-v2.5"]\n', "already names"),
])
def test_mistakes_in_aliases_stop_the_start(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as failure:
        load_route_engines(config(tmp_path, text))
    assert message in str(failure.value) and "acme/a" in str(failure.value)


def test_an_operator_alias_reaches_a_route_through_both_dialects(
    start_sqlite_server: ServerFactory, tmp_path: Path, image_url: str
) -> None:
    server = start_sqlite_server(workers=0, config=config(tmp_path, f'[routes."{SEED}"]\naliases = ["sora-2"]\n'))
    made = server.client.post("/v1/videos", json={"prompt": "x", "model": "sora-2", "seconds": "3",
                                                  "input_reference": {"image_url": image_url}})
    assert made.status_code == 200 and made.json()["model"] == SEED, made.text
    unified = server.client.post("/api/v3/videos", json={
        "model": "sora-2", "prompt": "x", "duration": 3,
        "frame_images": [{"type": "image_url", "frame_type": "first_frame", "image_url": {"url": image_url}}]})
    assert unified.status_code == 202 and unified.json()["model"] == SEED, unified.text
    models = server.client.get("/api/v3/models").json()["data"]
    assert next(model for model in models if model["id"] == SEED)["aliases"] == ["sora-2"]
