"""Custom voices through the HTTP API: create (as an asynchronous job), list, show, delete, use."""

from __future__ import annotations

import base64
import io
import re
import wave

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support import audio
from tests.support.http_files import FileServer
from tests.support.server import RunningServer

CREATE = "kwaivgi/kling_custom_voice/create_voice"
V26 = "kwaivgi/kling-v2.6-std/image-to-video"
RATE = 48_000


@pytest.fixture
def server(start_server: ServerFactory) -> RunningServer:
    return start_server()


def create(server: RunningServer, body: dict[str, object], key: str | None = None) -> dict[str, object]:
    response = server.submit(CREATE, {**body, "enable_sync_mode": True}, key=key)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_create_list_show_use_and_delete_a_voice(server: RunningServer, file_server: FileServer,
                                                 image_url: str) -> None:
    url = file_server.add("/voices/alice.wav", audio.encode(audio.voice(8, RATE), RATE, "wav"), "audio/wav")
    data = create(server, {"audio": url, "voice_name": "Alice"})
    assert data["status"] == "completed", data
    assert data["model"] == "kwaivgi/kling_custom_voice"
    voice_id = data["outputs"][0]
    assert re.fullmatch(r"\d{18}", voice_id)
    assert server.client.get(f"/api/v3/predictions/{data['id']}/result").json()["data"]["outputs"] == [voice_id]

    listed = server.client.get("/api/v3/voices").json()["data"]
    assert [(v["id"], v["name"]) for v in listed] == [(voice_id, "Alice")]
    shown = server.client.get(f"/api/v3/voices/{voice_id}").json()["data"]
    assert shown["duration"] == pytest.approx(8, abs=0.1)
    with wave.open(io.BytesIO(httpx.get(shown["sample_url"]).content)) as sample:
        assert (sample.getnchannels(), sample.getframerate(), sample.getsampwidth()) == (1, 24_000, 2)

    other = server.other_key()
    assert server.client.get(f"/api/v3/voices/{voice_id}", headers={"Authorization": other}).status_code == 404
    assert server.client.get("/api/v3/voices", headers={"Authorization": other}).json()["data"] == []

    body = {"prompt": "a song", "image": image_url, "voice_list": [voice_id]}
    accepted = server.submit(V26, body)
    assert accepted.status_code == 200, "every route's speech stage takes voices (tests/speech has them speak)"
    assert accepted.json()["data"]["input"]["script"]["lines"] == [], "no quoted line: nothing to say"
    strangers = server.submit(V26, body, key=other)
    assert strangers.status_code == 400 and strangers.json()["error"]["param"] == "voice_list[0].voice_id"
    unknown = server.submit(V26, {**body, "voice_list": [{"voice_id": "123"}]})
    assert unknown.status_code == 400 and "no voice 123" in unknown.json()["message"]

    assert server.client.delete(f"/api/v3/voices/{voice_id}", headers={"Authorization": other}).status_code == 404
    assert server.client.delete(f"/api/v3/voices/{voice_id}").status_code == 200
    assert server.client.get(f"/api/v3/voices/{voice_id}").status_code == 404
    assert httpx.get(shown["sample_url"]).status_code == 404, "the sample file is removed"


def test_voice_from_a_video_given_as_a_data_uri(server: RunningServer) -> None:
    clip = audio.encode(audio.voice(6, RATE), RATE, "mp4")
    uri = "data:video/mp4;base64," + base64.b64encode(clip).decode()
    data = create(server, {"voice_url": uri})
    assert data["status"] == "completed", data


@pytest.mark.parametrize(
    ("signal", "fragment"),
    [
        (audio.voice(3, RATE), "3.0 s long; a voice needs 5 to 30 s"),
        (audio.silence(8, RATE), "silent"),
        (audio.white_noise(8, RATE), "of the audio is speech"),
    ],
    ids=["too short", "silence", "noise"],
)
def test_samples_that_are_not_one_clean_voice_fail_and_are_refunded(
    server: RunningServer, file_server: FileServer, signal: object, fragment: str
) -> None:
    before = server.client.get("/api/v3/balance").json()["data"]["balance"]
    url = file_server.add(f"/voices/bad-{len(fragment)}.wav", audio.encode(signal, RATE, "wav"), "audio/wav")
    data = create(server, {"audio": url})
    assert data["status"] == "failed"
    assert fragment in data["error"], data["error"]
    assert server.client.get("/api/v3/balance").json()["data"]["balance"] == before


def test_voice_requests_are_validated_and_billed(server: RunningServer, file_server: FileServer) -> None:
    too_long_name = server.submit(CREATE, {"audio": "https://example.invalid/a.wav", "voice_name": "x" * 21})
    assert too_long_name.status_code == 400 and too_long_name.json()["error"]["param"] == "voice_name"
    missing = server.submit(CREATE, {"voice_name": "x"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "audio"
    not_media = server.submit(CREATE, {"audio": "ftp://example.invalid/a.wav"})
    assert not_media.status_code == 400 and not_media.json()["error"]["param"] == "audio"

    price = server.client.post("/api/v3/model/pricing", json={"model_id": "kwaivgi/kling_custom_voice"})
    assert price.json()["data"]["price"] == 0.2
    before = server.client.get("/api/v3/balance").json()["data"]["balance"]
    url = file_server.add("/voices/bob.wav", audio.encode(audio.voice(7, RATE), RATE, "wav"), "audio/wav")
    assert create(server, {"audio": url})["status"] == "completed"
    assert server.client.get("/api/v3/balance").json()["data"]["balance"] == pytest.approx(before - 0.2)
