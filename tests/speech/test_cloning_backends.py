"""VibeVoice and Pocket TTS speech backends: tiny random-weight checkpoints bound to routes in
reelserve.toml, loaded in their resident worker processes, driven through the HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ServerFactory
from tests.speech.tiny_models import build_tiny_pocket_tts, build_tiny_vibevoice
from tests.speech.voices import HIGH_HZ, LOW_HZ, create_voice, decode_mp4, lines_of, sounding
from tests.support.http_files import FileServer

BACKEND_ROUTES = {
    "vibevoice": "kwaivgi/kling-v2.6-std/image-to-video",
    "pocket-tts": "kwaivgi/kling-v2.6-pro/image-to-video",
}
FRAME = 0.02


@pytest.fixture(scope="session")
def tiny_speech_weights(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    root = tmp_path_factory.mktemp("tiny-speech")
    built: dict[str, Path] = {}

    def weights(backend: str) -> Path:
        if backend not in built:
            {"vibevoice": build_tiny_vibevoice, "pocket-tts": build_tiny_pocket_tts}[backend](root / backend)
            built[backend] = root / backend
        return built[backend]

    return weights


def test_cloning_backends_speak_each_line_for_its_window(
    start_server: ServerFactory, tiny_speech_weights: Callable[[str], Path], file_server: FileServer,
    image_url: str, tmp_path: Path,
) -> None:
    config = tmp_path / "reelserve.toml"
    config.write_text("".join(
        f'[routes."{route}".speech]\nbackend = "{backend}"\nweights = "{tiny_speech_weights(backend)}"\n'
        'device = "cpu"\ndtype = "float32"\n'
        for backend, route in BACKEND_ROUTES.items()
    ))
    server = start_server(config=config, sync_timeout_seconds=240)
    models = {model["id"]: model for model in server.client.get("/api/v3/models").json()["data"]}
    for backend, route in BACKEND_ROUTES.items():
        assert models[route]["speech"]["backend"] == backend
        assert models[route]["speech"]["voice_match"] == "cloned"
    assert models["kwaivgi/kling-v3.0-std/image-to-video"]["speech"]["voice_match"] == "approximate"

    low, high = create_voice(server, file_server, LOW_HZ), create_voice(server, file_server, HIGH_HZ)
    prompt = 'A<<<voice_1>>> says "Hello there, friend." B<<<voice_2>>> replies "Hi! Lovely day, is it not?"'
    for backend, route in BACKEND_ROUTES.items():
        body = {"prompt": prompt, "image": image_url, "duration": 5, "voice_list": [low, high],
                "enable_sync_mode": True}
        data = server.submit(route, body).json()["data"]
        assert data["status"] == "completed", (backend, data)
        assert (data["input"]["script"]["backend"], data["input"]["script"]["voice_match"]) == (backend, "cloned")
        mp4 = decode_mp4(server.client.get(data["outputs"][0]).content)
        assert mp4.audio_codec == "aac"
        assert mp4.audio_seconds == pytest.approx(mp4.video_seconds, abs=0.05) and mp4.video_seconds == 5.0
        envelope = sounding(mp4.audio, mp4.rate)
        times = np.arange(envelope.size) * FRAME
        for line in lines_of(data):
            # The tiny models speak until their budget: each line lasts its window, and not beyond it.
            window = (times >= line["start"] - 0.06) & (times < line["end"] + 0.06)
            heard = times[envelope & window]
            assert heard.size, (backend, line)
            assert heard[0] == pytest.approx(line["start"], abs=0.1), (backend, line)
            assert heard[-1] == pytest.approx(line["end"], abs=0.15), (backend, line)
        outside = np.ones(envelope.size, bool)
        for line in lines_of(data):
            outside &= ~((times >= line["start"] - 0.06) & (times < line["end"] + 0.06))
        assert not (envelope & outside).any(), backend
