"""Routes bound to tiny real pipelines through reelserve.toml, driven through the HTTP API.

One server serves every family at once, as an operator would bind them; each engine loads its
pipeline once in its own worker process and keeps it resident.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from tests.conftest import ServerFactory
from tests.diffusers.conftest import TEST_FPS, TEST_SIZES
from tests.speech.voices import LOW_HZ, create_voice, decode_mp4
from tests.support.http_files import FileServer
from tests.support.server import RunningServer

ROUTE_FAMILIES = {
    "kwaivgi/kling-v2.5-turbo-std/image-to-video": "wan2.2-ti2v-5b",
    "kwaivgi/kling-v2.5-turbo-pro/image-to-video": "ltx-video",
    "kwaivgi/kling-v2.6-std/image-to-video": "wan2.1-i2v",
    "kwaivgi/kling-v2.6-pro/image-to-video": "wan2.2-i2v-a14b",
    "kwaivgi/kling-v3.0-std/image-to-video": "ltx-2",
}
BROKEN_ROUTE = "kwaivgi/kling-v3.0-pro/image-to-video"
LTX2_ROUTE = "kwaivgi/kling-v3.0-std/image-to-video"


def toml_table(route: str, family: str, weights: Path) -> str:
    sizes = ", ".join(f'"{ratio}" = [{w}, {h}]' for ratio, (w, h) in TEST_SIZES.items())
    return (
        f'[routes."{route}"]\nengine = "diffusers"\nfamily = "{family}"\nweights = "{weights}"\n'
        f"steps = 2\nfps = {TEST_FPS}\nsizes = {{ {sizes} }}\n"
    )


@pytest.fixture(scope="module")
def server(
    tiny_weights: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory, image_url: str
) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("bound")
    broken = Path(shutil.copytree(tiny_weights("ltx-video"), root / "broken-ltx"))
    (broken / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(b"not a safetensors file")
    config = root / "reelserve.toml"
    config.write_text(
        "\n".join(toml_table(route, family, tiny_weights(family)) for route, family in ROUTE_FAMILIES.items())
        + "\n"
        + toml_table(BROKEN_ROUTE, "ltx-video", broken)
    )
    from tests.conftest import _server_factory

    factory = _server_factory(root, "sqlite")
    start: ServerFactory = next(factory)
    yield start(config=config, sync_timeout_seconds=240)
    factory.close()


def run(server: RunningServer, route: str, body: dict[str, Any], tmp_path: Path) -> tuple[dict[str, Any], Path]:
    response = server.submit(route, {**body, "enable_sync_mode": True})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    path = tmp_path / f"{data['id']}.mp4"
    if data["status"] == "completed":
        path.write_bytes(server.client.get(data["outputs"][0]).content)
    return data, path


def decode(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return {
            "frames": sum(1 for _ in container.decode(video)),
            "size": (video.codec_context.width, video.codec_context.height),
            "fps": video.average_rate,
            "audio": len(container.streams.audio),
        }


@pytest.mark.parametrize("route", list(ROUTE_FAMILIES), ids=list(ROUTE_FAMILIES.values()))
def test_each_family_makes_the_promised_mp4(
    server: RunningServer, route: str, image_url: str, tmp_path: Path
) -> None:
    data, path = run(server, route, {"prompt": "a boat", "image": image_url, "duration": 3, "sound": False,
                                     "aspect_ratio": "9:16", "seed": 7}, tmp_path)
    assert data["status"] == "completed", data
    assert data["progress"] == 100
    # 3 s at 8 fps is 24 frames; Wan rounds to 4k+1 and LTX to 8k+1: 25 either way.
    assert decode(path) == {"frames": 25, "size": (32, 64), "fps": TEST_FPS, "audio": 0}


def test_ltx2_sound_is_muxed_as_aac(server: RunningServer, image_url: str, tmp_path: Path) -> None:
    data, path = run(server, LTX2_ROUTE, {"prompt": "waves on rocks", "image": image_url, "duration": 3}, tmp_path)
    assert data["status"] == "completed", data
    assert data["input"]["sound"] is True, "sound defaults to true where the engine makes sound"
    assert decode(path)["audio"] == 1
    with av.open(str(path)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"


def test_ltx2_speaks_custom_voices_over_its_own_sound_and_wan_gets_a_voice_track(
    server: RunningServer, image_url: str, file_server: FileServer, tmp_path: Path
) -> None:
    voice = create_voice(server, file_server, LOW_HZ)
    prompt = 'waves on rocks; a sailor<<<voice_1>>> shouts "Land ahead!"'
    with_voice, path = run(server, LTX2_ROUTE, {"prompt": prompt, "image": image_url, "duration": 3,
                                                "voice_list": [voice], "seed": 3}, tmp_path)
    assert with_voice["status"] == "completed", with_voice
    (line,) = with_voice["input"]["script"]["lines"]
    _, ambience_path = run(server, LTX2_ROUTE, {"prompt": prompt, "image": image_url, "duration": 3,
                                                "seed": 3}, tmp_path)
    mixed, alone = decode_mp4(path.read_bytes()), decode_mp4(ambience_path.read_bytes())
    assert mixed.audio_seconds == pytest.approx(mixed.video_seconds, abs=0.05)
    spoken = slice(round(line["start"] * mixed.rate), round(line["end"] * mixed.rate))
    difference = mixed.audio[: alone.audio.size] - alone.audio[: mixed.audio.size]
    assert np.sqrt(np.mean(difference[spoken] ** 2)) > 0.01, "the line is spoken over LTX-2's sound"
    before = slice(0, round((line["start"] - 0.2) * mixed.rate))
    assert np.allclose(mixed.audio[before], alone.audio[before], atol=0.02), "and only where the script puts it"

    wan_route = "kwaivgi/kling-v2.6-std/image-to-video"
    data, path = run(server, wan_route, {"prompt": prompt, "image": image_url, "duration": 3,
                                         "voice_list": [voice]}, tmp_path)
    assert data["status"] == "completed", data
    assert data["input"]["sound"] is True, "a family without sound still speaks the lines"
    assert decode_mp4(path.read_bytes()).audio_codec == "aac"


def test_multi_prompt_is_the_sum_of_its_segments(server: RunningServer, image_url: str, tmp_path: Path) -> None:
    segments = [{"index": 1, "prompt": "calm sea", "duration": "1"}, {"index": 2, "prompt": "storm", "duration": "2"}]
    data, path = run(server, LTX2_ROUTE, {"prompt": "sea", "image": image_url, "duration": 3, "sound": False,
                                          "multi_prompt": segments}, tmp_path)
    assert data["status"] == "completed", data
    assert decode(path)["frames"] == (8 * 1 + 1) + (8 * 2 + 1)


def test_text_to_video_needs_an_aspect_ratio(server: RunningServer, tmp_path: Path) -> None:
    route = "kwaivgi/kling-v2.5-turbo-std/image-to-video"
    missing = server.submit(route, {"prompt": "a city at night"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "aspect_ratio"
    data, path = run(server, route, {"prompt": "a city at night", "aspect_ratio": "1:1", "duration": 3}, tmp_path)
    assert data["status"] == "completed", data
    assert decode(path)["size"] == (32, 32)


def test_requests_a_family_cannot_honour_are_refused(server: RunningServer, image_url: str) -> None:
    no_sound = server.submit("kwaivgi/kling-v2.5-turbo-std/image-to-video",
                             {"prompt": "p", "image": image_url, "sound": True})
    assert no_sound.status_code == 400 and no_sound.json()["error"]["param"] == "sound"
    no_end_frame = server.submit("kwaivgi/kling-v2.6-pro/image-to-video",
                                 {"prompt": "p", "image": image_url, "end_image": image_url})
    assert no_end_frame.status_code == 400 and no_end_frame.json()["error"]["param"] == "end_image"


def test_models_describe_each_binding(server: RunningServer) -> None:
    models = {model["id"]: model["engine"] for model in server.client.get("/api/v3/models").json()["data"]}
    for route, family in ROUTE_FAMILIES.items():
        assert models[route]["name"] == "diffusers" and models[route]["family"] == family
        assert models[route]["capabilities"]["generative"] is True
    assert models[LTX2_ROUTE]["capabilities"]["sound"] is True
    assert models["kwaivgi/kling-v2.5-turbo-pro/image-to-video"]["capabilities"]["end_frame"] is True


def test_a_failing_pipeline_fails_the_job_not_the_server(
    server: RunningServer, image_url: str, tmp_path: Path
) -> None:
    before = server.client.get("/api/v3/balance").json()["data"]["balance"]
    data, _ = run(server, BROKEN_ROUTE, {"prompt": "p", "image": image_url, "duration": 3}, tmp_path)
    assert data["status"] == "failed"
    assert "could not load the ltx-video pipeline" in data["error"]
    assert server.client.get("/api/v3/balance").json()["data"]["balance"] == before, "refunded"
    assert server.client.get("/healthz").status_code == 200
    again, _ = run(server, "kwaivgi/kling-v2.5-turbo-pro/image-to-video",
                   {"prompt": "p", "image": image_url, "duration": 3}, tmp_path)
    assert again["status"] == "completed"
