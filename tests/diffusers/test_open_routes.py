"""A local Wan 2.2 served under WaveSpeed's own route names, with those routes' own parameters, through the
HTTP API: the built-in catalog's open routes bound to a tiny real pipeline in reelserve.toml."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerFactory
from tests.diffusers.conftest import TEST_FPS, TEST_SIZES
from tests.diffusers.test_http_end_to_end import decode, run
from tests.support.server import RunningServer

I2V = "wavespeed-ai/wan-2.2/i2v-720p"
T2V = "wavespeed-ai/wan-2.2/t2v-480p"


@pytest.fixture(scope="module")
def server(tiny_weights: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("open-routes")
    sizes = ", ".join(f'"{ratio}" = [{w}, {h}]' for ratio, (w, h) in TEST_SIZES.items())
    binding = (f'engine = "diffusers"\nfamily = "wan2.2-ti2v-5b"\nweights = "{tiny_weights("wan2.2-ti2v-5b")}"\n'
               f"steps = 2\nfps = {TEST_FPS}\nsizes = {{ {sizes} }}\n")
    config = root / "reelserve.toml"
    config.write_text(f'[routes."{I2V}"]\n{binding}\n[routes."{T2V}"]\n{binding}')
    from tests.conftest import _server_factory

    factory = _server_factory(root, "sqlite")
    start: ServerFactory = next(factory)
    yield start(config=config, sync_timeout_seconds=240)
    factory.close()


def test_image_to_video_under_its_own_name(server: RunningServer, image_url: str, tmp_path: Path) -> None:
    data, path = run(server, I2V, {"prompt": "a boat", "image": image_url, "duration": 5, "seed": 3}, tmp_path)
    assert data["status"] == "completed", data
    assert data["model"] == I2V and data["input"]["seed"] == 3
    assert decode(path) == {"frames": 41, "size": (64, 32), "fps": TEST_FPS, "audio": 0}
    refused = server.submit(I2V, {"prompt": "a boat", "image": image_url, "duration": 6})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "duration"
    no_end_frame = server.submit(I2V, {"prompt": "a boat", "image": image_url, "last_image": image_url})
    assert no_end_frame.status_code == 400 and no_end_frame.json()["error"]["param"] == "end_image"


def test_text_to_video_takes_the_routes_size(server: RunningServer, tmp_path: Path) -> None:
    data, path = run(server, T2V, {"prompt": "a city at night", "size": "480*832"}, tmp_path)
    assert data["status"] == "completed", data
    width, height = decode(path)["size"]
    assert width < height, "480*832 is a portrait size"
    models = {model["id"]: model for model in server.client.get("/api/v3/models").json()["data"]}
    assert models[T2V]["type"] == "text-to-video" and models[T2V]["engine"]["family"] == "wan2.2-ti2v-5b"
    assert models[I2V]["price"] == {"per_second_usd": "0.06"}
