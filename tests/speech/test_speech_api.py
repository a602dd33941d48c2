"""voice_list end to end on the embedded default (motion engine + approximate speech), over HTTP."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ServerFactory
from tests.speech.voices import (
    HIGH_HZ,
    LOW_HZ,
    create_voice,
    decode_mp4,
    lines_of,
    median_pitch,
    sample_median_pitch,
    sounding,
    span,
)
from tests.support.http_files import FileServer

V26 = "kwaivgi/kling-v2.6-std/image-to-video"
V30 = "kwaivgi/kling-v3.0-std/image-to-video"
FRAME = 0.02


def test_two_voices_speak_their_lines_where_the_script_puts_them(
    start_server: ServerFactory, file_server: FileServer, image_url: str
) -> None:
    server = start_server()
    low, high = create_voice(server, file_server, LOW_HZ), create_voice(server, file_server, HIGH_HZ)
    before = server.client.get("/api/v3/balance").json()["data"]["balance"]
    prompt = (
        'The man<<<voice_1>>> says, "Good morning, how are you today?" '
        "The woman<<<voice_2>>> answers, “I am very well, thank you.” "
        'He<<<voice_1>>> smiles: "Shall we go?"'
    )
    body = {"prompt": prompt, "image": image_url, "duration": 8, "voice_list": [low, {"voice_id": high}],
            "enable_sync_mode": True}
    data = server.submit(V26, body).json()["data"]
    assert data["status"] == "completed", data
    assert data["input"]["sound"] is True, "the motion engine serves sound when there are lines to speak"
    script = data["input"]["script"]
    assert (script["backend"], script["voice_match"]) == ("approximate", "approximate")
    lines = lines_of(data)
    assert [(line["voice"], line["text"]) for line in lines] == [
        (1, "Good morning, how are you today?"), (2, "I am very well, thank you."), (1, "Shall we go?")
    ]
    assert all(a["end"] < b["start"] for a, b in itertools.pairwise(lines)), "in order, never overlapping"
    spent = before - server.client.get("/api/v3/balance").json()["data"]["balance"]
    assert spent == pytest.approx(8 * (0.056 + 0.028)), "a video with voices costs the voice surcharge a second"

    mp4 = decode_mp4(server.client.get(data["outputs"][0]).content)
    assert mp4.audio_codec == "aac"
    assert mp4.video_seconds == pytest.approx(8.0)
    assert mp4.audio_seconds == pytest.approx(mp4.video_seconds, abs=0.05), "an AAC track as long as the video"

    # Words only where the script puts them: every sounding frame lies in a line's window, and each window
    # starts sounding at its start.
    envelope = sounding(mp4.audio, mp4.rate)
    times = np.arange(envelope.size) * FRAME
    inside = np.zeros(envelope.size, bool)
    for line in lines:
        inside |= (times >= line["start"] - 0.06) & (times < line["end"] + 0.06)
        first = times[envelope & (times >= line["start"] - 0.06)][0]
        assert first == pytest.approx(line["start"], abs=0.1), line
    assert not (envelope & ~inside).any(), f"sound outside the lines at {times[envelope & ~inside][:5]} s"
    assert envelope.mean() > 0.2

    # The two voices alternate as the markers say: each line in its voice's pitch, within 10%.
    wanted = {1: sample_median_pitch(LOW_HZ), 2: sample_median_pitch(HIGH_HZ)}
    for line in lines:
        measured = median_pitch(span(mp4.audio, mp4.rate, line["start"], line["end"]), mp4.rate)
        assert measured == pytest.approx(wanted[line["voice"]], rel=0.10), (line, measured, wanted)


def test_script_cases_answer_as_documented(
    start_server: ServerFactory, file_server: FileServer, image_url: str
) -> None:
    server = start_server()
    one, two = create_voice(server, file_server, LOW_HZ), create_voice(server, file_server, HIGH_HZ, seed=2)

    def submit(prompt: str, voices: list[str], route: str = V26, **extra: object) -> tuple[int, dict]:
        body = {"prompt": prompt, "image": image_url, "voice_list": voices, "duration": 3, **extra}
        response = server.submit(route, body)
        return response.status_code, response.json()

    def said(prompt: str, voices: list[str], **extra: object) -> list[tuple[int, str]]:
        status, body = submit(prompt, voices, **extra)
        assert status == 200, body
        return [(line["voice"], line["text"]) for line in body["data"]["input"]["script"]["lines"]]

    # GPTProto's own example: one voice, no marker, every quoted line is that voice's.
    assert said('cat say:"hi! welcome to gptproto"', [one]) == [(1, "hi! welcome to gptproto")]
    assert said("The man<<<voice_1>>> said “Hello.” The woman<<<voice_2>>> answered 「你好」", [one, two]) == [
        (1, "Hello."), (2, "你好")
    ]
    segments = [{"index": 1, "prompt": 'A<<<voice_2>>> asks "Ready?"', "duration": "2"},
                {"index": 2, "prompt": 'and "Go!"', "duration": "2"}]
    status, body = submit("two shots", [one, two], route=V30, duration=4, multi_prompt=segments)
    assert status == 200, body
    lines = body["data"]["input"]["script"]["lines"]
    assert [(line["voice"], line["segment"]) for line in lines] == [(2, 1), (2, 2)]
    assert lines[1]["start"] >= 2.0, "a segment's lines are spoken within their segment"
    assert said("a quiet street, nobody speaks", [one]) == []
    status, body = submit("a quiet street", [one], sound=True)
    assert status == 400 and body["error"]["param"] == "sound", "no lines and no engine sound: sound is refused"

    status, body = submit('x<<<voice_3>>> says "hi"', [one, two])
    assert status == 400 and body["error"]["param"] == "prompt"
    assert body["error"]["type"] == "invalid_request_error"
    assert "<<<voice_3>>> names voice 3, but voice_list has 2 voices" in body["message"]
    status, body = submit('x<<<narrator>>> "hi"', [one])
    assert status == 400 and "unknown marker <<<narrator>>>" in body["message"]
    status, body = submit('say "' + "word " * 30 + '"', [one], duration=5)
    assert status == 400 and body["code"] == 400 and body["data"] is None
    assert "the lines need about 12.3 s at a natural speaking rate" in body["message"]
    assert "but the video is 5 s long" in body["message"]
    status, body = submit("a", [one, two], route=V30, duration=4, multi_prompt=[
        {"index": 1, "prompt": '<<<voice_1>>> "one two three four five six seven"', "duration": "2"},
        {"index": 2, "prompt": "b", "duration": "2"}])
    assert status == 400 and body["error"]["param"] == "multi_prompt[0].prompt"
    assert "segment 1 is 2 s" in body["message"]
    status, body = submit('"hi" and "bye"', [one, two])
    assert status == 400 and "has no <<<voice_N>>> marker before it" in body["message"]
    status, body = submit('she says "unfinished', [one])
    assert status == 400 and "never closed" in body["message"]


def test_without_espeak_ng_the_job_fails_saying_so_and_the_server_lives_on(
    start_sqlite_server: ServerFactory, file_server: FileServer, image_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = start_sqlite_server()
    voice = create_voice(server, file_server, LOW_HZ)
    before = server.client.get("/api/v3/balance").json()["data"]["balance"]
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH where no espeak-ng is found
    body = {"prompt": 'she says "hello"', "image": image_url, "duration": 3, "voice_list": [voice],
            "enable_sync_mode": True}
    data = server.submit(V26, body).json()["data"]
    assert data["status"] == "failed"
    assert "espeak-ng" in data["error"] and "apt-get install espeak-ng" in data["error"]
    assert server.client.get("/api/v3/balance").json()["data"]["balance"] == pytest.approx(before), "refunded"
    assert server.client.get("/healthz").status_code == 200
