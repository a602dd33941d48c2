"""The open catalog without a server: reelserve.toml's routes over the built-in ones, narrowing and extending
parameters, prices, ordered bindings for spill-over, and every mistake stopping the start with a ConfigError
that names the file, the route and the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from reelserve.catalog.bindings import ConfigError, load_route_engines, served_route_ids
from reelserve.catalog.open_params import aspect_ratio_of_size
from reelserve.catalog.spill import choose_binding
from reelserve.errors import InputError

SEED = "kwaivgi/kling-v2.5-turbo-std/image-to-video"
KLING_ROUTES = [
    SEED,
    "kwaivgi/kling-v2.5-turbo-pro/image-to-video",
    "kwaivgi/kling-v2.6-std/image-to-video",
    "kwaivgi/kling-v2.6-pro/image-to-video",
    "kwaivgi/kling-v3.0-std/image-to-video",
    "kwaivgi/kling-v3.0-pro/image-to-video",
]
OPEN_ROUTES = [
    "wavespeed-ai/wan-2.1/i2v-480p", "wavespeed-ai/wan-2.1/i2v-720p", "wavespeed-ai/wan-2.1/t2v-720p",
    "wavespeed-ai/wan-2.2/i2v-480p", "wavespeed-ai/wan-2.2/i2v-720p", "wavespeed-ai/wan-2.2/t2v-480p",
    "wavespeed-ai/wan-2.2/t2v-720p", "wavespeed-ai/ltx-video-v097/i2v-480p", "wavespeed-ai/ltx-video-v097/i2v-720p",
    "wavespeed-ai/ltx-2-19b/image-to-video", "wavespeed-ai/ltx-2-19b/text-to-video",
]


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "reelserve.toml"
    path.write_text(text)
    return path


def bind_all_open_routes(tmp_path: Path) -> Path:
    return config(tmp_path, "".join(f'[routes."{route}"]\nengine = "motion"\n' for route in OPEN_ROUTES))


def test_without_a_file_the_six_kling_routes_are_served_by_motion() -> None:
    engines = load_route_engines(None)
    assert [route.id for route in engines.routes()] == KLING_ROUTES == served_route_ids(None)
    assert {binding.engine_name for binding in engines.all()} == {"motion"}
    assert engines.prices.per_second_usd[SEED] == Decimal("0.042")


def test_open_routes_carry_the_models_own_parameters(tmp_path: Path) -> None:
    engines = load_route_engines(bind_all_open_routes(tmp_path))
    schema = {route.id: route.json_schema() for route in engines.routes()}
    wan22 = schema["wavespeed-ai/wan-2.2/i2v-720p"]
    assert set(wan22["properties"]) == {"prompt", "negative_prompt", "image", "last_image", "duration", "seed",
                                        "enable_sync_mode"}
    assert wan22["required"] == ["prompt", "image"] and wan22["properties"]["duration"]["enum"] == [5, 8]
    assert wan22["properties"]["seed"]["default"] == -1
    wan21 = schema["wavespeed-ai/wan-2.1/i2v-480p"]["properties"]
    assert wan21["size"]["anyOf"][0]["enum"] == ["832*480", "480*832"] and wan21["size"]["default"] == "832*480"
    t2v = schema["wavespeed-ai/wan-2.2/t2v-720p"]
    assert "image" not in t2v["properties"] and t2v["required"] == ["prompt"]
    ltx2 = schema["wavespeed-ai/ltx-2-19b/text-to-video"]["properties"]
    assert ltx2["resolution"]["default"] == "720p" and ltx2["aspect_ratio"]["anyOf"][0]["enum"] == ["16:9", "9:16"]
    assert (ltx2["duration"]["minimum"], ltx2["duration"]["maximum"]) == (5, 20)
    kinds = {route.id: route.kind for route in engines.routes()}
    assert kinds["wavespeed-ai/wan-2.2/t2v-480p"] == "text-to-video" and kinds[SEED] == "image-to-video"


def test_an_open_route_reads_like_any_other_request(tmp_path: Path) -> None:
    engines = load_route_engines(bind_all_open_routes(tmp_path))
    wan22 = engines.route("wavespeed-ai/wan-2.2/i2v-720p")
    assert wan22 is not None
    params = wan22.parse({"prompt": "p", "image": "IMG", "last_image": "END", "duration": "8", "seed": -1})
    stored = params.model_dump(mode="json")
    assert stored["end_image"] == "END" and stored["duration"] == 8 and stored["seed"] is None
    assert (params.sound, params.aspect_ratio, params.guidance_scale) == (None, None, None)
    with pytest.raises(InputError, match="must be one of 5, 8") as failure:
        wan22.parse({"prompt": "p", "image": "IMG", "duration": 6})
    assert failure.value.param == "duration"
    t2v = engines.route("wavespeed-ai/wan-2.2/t2v-480p")
    assert t2v is not None
    portrait = t2v.parse({"prompt": "p", "size": "480*832"})
    assert (portrait.image, portrait.aspect_ratio, portrait.duration) == (None, "15:26", 5)
    with pytest.raises(InputError) as failure:
        t2v.parse({"prompt": "p", "size": "1280*720"})
    assert failure.value.param == "size"
    assert aspect_ratio_of_size("1280*720") == "16:9"


def test_an_operator_route_narrows_and_extends_its_family(tmp_path: Path) -> None:
    engines = load_route_engines(config(tmp_path, """
[routes."acme/portrait-pan"]
title = "Portrait pans"
schema = "kling-i2v"
features = ["end_image"]
engine = "motion"
price_per_second = 0.02
limits.duration = { min = 4, max = 6, default = 4 }
limits.aspect_ratio = { allowed = ["9:16"], default = "9:16" }
params.camera = { type = "string", allowed = ["pan", "tilt"], default = "pan", description = "House style" }
params.strength = { type = "number", min = 0, max = 2 }

[prices]
"acme/portrait-pan" = 0.025
"""))
    route = engines.route("acme/portrait-pan")
    assert route is not None and route.title == "Portrait pans"
    properties = route.json_schema()["properties"]
    assert (properties["duration"]["minimum"], properties["duration"]["maximum"]) == (4, 6)
    assert properties["camera"]["anyOf"][0]["enum"] == ["pan", "tilt"] and "end_image" in properties
    params = route.parse({"prompt": "p", "duration": " 5 ", "strength": 1.5})
    assert (params.duration, params.aspect_ratio, params.camera, params.strength) == (5, "9:16", "pan", 1.5)
    for body, param in (({"duration": 7}, "duration"), ({"aspect_ratio": "16:9"}, "aspect_ratio"),
                        ({"camera": "zoom"}, "camera"), ({"strength": 3}, "strength")):
        with pytest.raises(InputError) as failure:
            route.parse({"prompt": "p", **body})
        assert failure.value.param == param
    assert engines.prices.video_micros("acme/portrait-pan", 4) == 100_000
    assert engines.route_at("/api/v3/acme/portrait-pan") is route


def test_limits_on_a_built_in_route_merge_with_its_own(tmp_path: Path) -> None:
    engines = load_route_engines(config(tmp_path, f"""
[routes."wavespeed-ai/wan-2.1/i2v-720p"]
engine = "motion"
limits.duration = {{ allowed = [5], default = 5 }}

[routes."{SEED}"]
limits.duration = {{ max = 10 }}
"""))
    wan21 = engines.route("wavespeed-ai/wan-2.1/i2v-720p")
    assert wan21 is not None
    properties = wan21.json_schema()["properties"]
    assert properties["duration"]["enum"] == [5] and properties["size"]["anyOf"][0]["enum"] == ["1280*720", "720*1280"]
    seed = engines.route(SEED)
    assert seed is not None and seed.json_schema()["properties"]["duration"]["maximum"] == 10
    assert engines.binding(SEED).engine_name == "motion", "a route without a binding keeps the built-in one"


def test_several_engines_in_order_with_their_own_prices(tmp_path: Path) -> None:
    engines = load_route_engines(config(tmp_path, f"""
[routes."{SEED}"]
engines = ["local", "upstream"]
spill_after_seconds = 120

[routes."{SEED}".local]
engine = "motion"

[routes."{SEED}".upstream]
provider = "v3"
model = "{SEED}"
api_key_env = "WAVESPEED_API_KEY"
price_per_second = 0.06
"""))
    bindings = engines.bindings(SEED)
    assert [(binding.label, binding.engine_name) for binding in bindings] == [("local", "motion"),
                                                                            ("upstream", "upstream")]
    assert engines.entry(SEED).spill_after_seconds == 120.0
    assert engines.prices.per_second_usd[SEED] == Decimal("0.042")
    assert engines.prices.video_micros(SEED, 5, label="local") == 210_000
    assert engines.prices.video_micros(SEED, 5, label="upstream") == 300_000
    assert engines.engine_for(SEED) is bindings[0].engine
    chosen = choose_binding(bindings, 120.0, {"local": 300.0}, {"local", "upstream"})
    assert chosen is bindings[1]


def test_the_issue_configuration_loads_as_written(tmp_path: Path) -> None:
    engines = load_route_engines(config(tmp_path, f"""
[routes."{SEED}"]
engine = "upstream"
provider = "v3"
base_url = "https://api.wavespeed.ai"
model = "{SEED}"
api_key_env = "WAVESPEED_API_KEY"

[routes."acme/short-zoom"]          # a route of the operator's own
schema = "kling-i2v"                # a built-in parameter family
engine = "motion"
price_per_second = 0.01
[routes."acme/short-zoom".limits]
duration = {{ max = 5 }}
"""))
    assert engines.binding(SEED).engine_name == "upstream"
    assert engines.prices.per_second_usd["acme/short-zoom"] == Decimal("0.01")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[route."a/b"]\nengine = "motion"\n', "unknown key(s) route"),
        ('[routes."acme/x"]\nschema = "kling-i2v"\nengine = "motion"\n', "'acme/x': price_per_second: a route needs"),
        ('[routes."acme/x"]\nengine = "motion"\nprice_per_second = 1\n', "'acme/x': schema: a route needs"),
        ('[routes."acme/x"]\nschema = "sora"\nengine = "motion"\nprice_per_second = 1\n', "unknown schema 'sora'"),
        ('[routes."acme/x"]\nschema = "kling-i2v"\nprice_per_second = 1\n', "'acme/x': no engine bound"),
        ('[routes."acme/x"]\nschema = "kling-i2v"\nengine = "motion"\nprice_per_second = -1\n',
         "price_per_second: must be zero or more"),
        ('[routes."acme/x"]\nschema = "kling-i2v"\nengine = "motion"\nprice_per_second = "cheap"\n',
         "'cheap' is not an amount"),
        ('[routes."acme/x"]\nschema = "kling-i2v"\nengine = "motion"\nprice_per_second = 1\nfeatures = ["sound"]\n',
         "unknown feature(s) sound"),
        ('[routes."acme/x"]\nschema = "kling-i2v"\nengine = "motion"\nprice_per_second = 1\n'
         'limits.duraton = { max = 5 }\n', "limits.duraton: the route has no such parameter"),
        ('[routes."acme/x"]\nschema = "kling-i2v"\nengine = "motion"\nprice_per_second = 1\n'
         'limits.duration = { maximum = 5 }\n', "limits.duration: unknown key(s) maximum"),
        ('[routes."acme/x"]\nschema = "kling-i2v"\nengine = "motion"\nprice_per_second = 1\n'
         'limits.duration = { allowed = [5, "ten"] }\n', "limits.duration.allowed: 'ten' is not a valid value"),
        ('[routes."acme/x"]\nschema = "kling-i2v"\nengine = "motion"\nprice_per_second = 1\n'
         'limits.duration = { max = 5, default = 8 }\n', "limits.duration.default: 8 is not a valid value"),
        ('[routes."acme/x"]\nschema = "kling-i2v"\nengine = "motion"\nprice_per_second = 1\n'
         'params.image = { type = "string" }\n', "params.image: the route already has a parameter"),
        ('[routes."acme/x"]\nschema = "kling-i2v"\nengine = "motion"\nprice_per_second = 1\n'
         'params.style = { type = "colour" }\n', "params.style.type: must be one of"),
        ('[routes."predictions/x"]\nschema = "kling-i2v"\nengine = "motion"\nprice_per_second = 1\n',
         "would shadow one of the server's own endpoints"),
        ('[routes."one-segment"]\nschema = "kling-i2v"\nengine = "motion"\nprice_per_second = 1\n',
         "two or more path segments"),
        (f'[routes."{SEED}"]\nengine = "motion"\nprice_per_secnd = 1\n', "takes no options (got price_per_secnd)"),
        (f'[routes."{SEED}"]\nengine = "upstream"\nprovider = "v3"\nmodel = "m"\napi_key_env = "K"\ntimeout = 5\n',
         "timeout: unknown option"),
        (f'[routes."{SEED}"]\nengine = "motion"\nengines = ["motion"]\n', "engine and engines: give one"),
        (f'[routes."{SEED}"]\nengines = ["motion"]\nspill_after_seconds = 60\n', "needs two or more engines"),
        (f'[routes."{SEED}"]\nengines = ["a", "b"]\nspill_after_seconds = 0\n[routes."{SEED}".a]\n'
         'engine = "motion"\n[routes."{SEED}".b]\nengine = "motion"\n', "spill_after_seconds: must be a number"),
        (f'[routes."{SEED}"]\nengines = ["motion"]\nfamily = "ltx-2"\n', "family: unknown key(s)"),
        (f'[routes."{SEED}"]\nengine = "motion"\n[prices]\n"acme/nope" = 1\n', "[prices]: unknown route 'acme/nope'"),
    ],
)
def test_mistakes_stop_the_start_naming_the_file_route_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = config(tmp_path, text)
    with pytest.raises(ConfigError) as failure:
        load_route_engines(path)
    assert str(path) in str(failure.value)
    assert message in str(failure.value)
