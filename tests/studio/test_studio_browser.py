"""The studio in Debian's Chromium: sign in, upload, submit, follow the queue and the progress, play the video,
download it, cancel a second job, find both in the history, reopen, delete; refused with a visible message for a
wrong key, a file that is no image and an image too small. Screenshots of each step under
test-artifacts/screenshots/."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any

import av
import httpx

from tests.conftest import SEED_ROUTE, ServerFactory
from tests.studio.pages import expect, open_page, sign_in
from tests.support.browser import Screenshots
from tests.support.images import image_bytes, scene_bytes
from tests.support.server import RunningServer

OTHER_ROUTE = "kwaivgi/kling-v2.6-std/image-to-video"

RECORD_PROGRESS = """() => {
  window.progressSeen = [];
  new MutationObserver((changes) => {
    for (const change of changes) {
      const value = change.target.getAttribute('aria-valuenow');
      if (value !== null) window.progressSeen.push(Number(value));
    }
  }).observe(document.getElementById('result'),
             { subtree: true, attributes: true, attributeFilter: ['aria-valuenow'] });
}"""


def result(server: RunningServer, prediction_id: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": key} if key else None
    return server.client.get(f"/api/v3/predictions/{prediction_id}/result", headers=headers)


def wait_for_status(server: RunningServer, prediction_id: str, key: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        data = result(server, prediction_id, key).json()["data"]
        if data["status"] in statuses:
            return data
        assert time.monotonic() < deadline, f"{prediction_id} still {data['status']}"
        time.sleep(0.05)


def shown_job_id(page: Any) -> str:
    return page.locator(".job-id").inner_text()


def test_make_a_video_in_the_studio(
    browser: Any, shots: Screenshots, start_sqlite_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_sqlite_server(workers=1)
    picture = tmp_path / "lake.jpg"
    picture.write_bytes(scene_bytes(1280, 720))
    small = tmp_path / "thumbnail.png"
    small.write_bytes(image_bytes(200, 150))
    watched = open_page(browser, server)
    page = watched.page

    page.goto(server.base_url + "/")
    shots.take(page, "sign-in")
    page.get_by_label("API key").fill("sk-" + "0" * 48)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#key-error")).to_have_text("The API key was refused: Invalid or revoked API key.")
    expect(page.get_by_label("API key")).to_have_attribute("aria-invalid", "true")
    shots.take(page, "wrong-key-refused")

    sign_in(page, server, server.key)
    expect(page.locator("#balance")).to_have_text("$1,000.00")
    assert server.key not in page.url and page.context.cookies() == [], "the key is never in a URL or a cookie"
    assert page.evaluate("() => sessionStorage.getItem('reelserve.studio.apiKey')") == server.key
    expect(page.locator("#admin-link")).to_be_hidden()
    shots.take(page, "signed-in")

    page.set_input_files("#image-file", files=[{
        "name": "notes.png", "mimeType": "image/png", "buffer": b"<!doctype html><html><body>notes</body></html>",
    }])
    expect(page.locator("#image-error")).to_contain_text(
        "Not uploaded. The file is an HTML page, not an image as its type image/png declares")
    shots.take(page, "not-an-image-refused")

    page.set_input_files("#image-file", str(small))
    expect(page.locator(".upload-state")).to_have_text("✓ Uploaded")
    expect(page.locator("#image-error")).to_have_text("")
    page.get_by_label("Prompt", exact=True).fill("The camera glides toward the moon over the lake")
    page.get_by_role("button", name=re.compile("^Generate")).click()
    expect(page.locator("#image-error")).to_have_text("Image is 200x150; each side must be at least 300 px.")
    expect(page.locator("#image-file")).to_be_focused()
    shots.take(page, "too-small-refused")

    page.set_input_files("#image-file", str(picture))
    expect(page.locator(".upload-state")).to_have_text("✓ Uploaded")
    expect(page.locator("#image-error")).to_have_text("")
    page.locator("#duration").fill("10")
    expect(page.locator("#duration-output")).to_have_text("10 s")
    expect(page.locator("#estimate")).to_have_text("$0.42")
    shots.take(page, "ready-to-generate")

    # Another customer's long job holds the only worker, so ours waits in the queue first.
    other = server.other_key()
    blocker = server.submit(SEED_ROUTE, {"prompt": "pan left", "duration": 15, "image": base64.b64encode(
        picture.read_bytes()).decode()}, key=other).json()["data"]["id"]
    wait_for_status(server, blocker, other, {"processing"})
    page.evaluate(RECORD_PROGRESS)
    page.get_by_role("button", name=re.compile("^Generate")).click()
    expect(page.locator("#job-status")).to_have_text("Next in the queue")
    expect(page.locator(".job .badge")).to_have_text("Queued")
    shots.take(page, "queued")
    first = shown_job_id(page)
    cancelled = server.client.post(f"/api/v3/predictions/{blocker}/cancel", headers={"Authorization": other})
    assert cancelled.status_code == 200

    page.wait_for_function("() => window.progressSeen.some((value) => value > 0 && value < 100)")
    expect(page.locator(".job .badge")).to_have_text("Rendering")
    shots.take(page, "rendering")
    expect(page.locator("#result-video")).to_be_visible()
    page.wait_for_function("() => { const v = document.getElementById('result-video');"
                           " return v.readyState >= 2 && v.currentTime > 0.2; }")
    started_at = page.evaluate("() => document.getElementById('result-video').currentTime")
    page.wait_for_function(f"() => document.getElementById('result-video').currentTime > {started_at} + 0.5")
    playing = page.evaluate("""() => { const v = document.getElementById('result-video');
        return { width: v.videoWidth, height: v.videoHeight, paused: v.paused, error: v.error && v.error.code,
                 h264: v.canPlayType('video/mp4; codecs="avc1.42E01E"') }; }""")
    assert playing == {"width": 1280, "height": 720, "paused": False, "error": None, "h264": "probably"}
    seen = page.evaluate("() => window.progressSeen")
    rendering = [value for value in seen if 0 < value < 100]
    assert len(set(rendering)) >= 2 and rendering == sorted(rendering), f"progress moved forward: {seen}"
    assert seen[-1] == 100

    done = result(server, first).json()["data"]
    assert done["status"] == "completed" and done["price"] == 0.42
    expect(page.locator("#price")).to_have_text("$0.42")
    expect(page.locator("#balance")).to_have_text("$999.58")
    assert page.locator("#download").get_attribute("href") == done["outputs"][0]
    assert page.locator("#result-video").get_attribute("poster") == done["posters"][0]
    shots.take(page, "playing")
    with page.expect_download() as download:
        page.locator("#download").click()
    saved = tmp_path / "downloaded.mp4"
    download.value.save_as(saved)
    assert download.value.suggested_filename == f"{first}.mp4"
    with av.open(str(saved)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (1280, 720)
        assert abs(float(stream.duration * stream.time_base) - 10) < 0.2

    page.locator("#duration").fill("15")
    page.get_by_role("button", name=re.compile("^Generate")).click()
    expect(page.locator(".job-id")).not_to_have_text(first)
    second = shown_job_id(page)
    expect(page.locator(".job .badge")).to_have_text(re.compile("Queued|Rendering"))
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".job .badge")).to_have_text("Cancelled")
    expect(page.locator(".job .notice")).to_have_text("Cancelled. The $0.63 charged was refunded.")
    expect(page.locator("#cancel-job")).to_be_hidden()
    expect(page.locator("#balance")).to_have_text("$999.58")
    assert result(server, second).json()["data"]["status"] == "cancelled"
    shots.take(page, "second-job-cancelled")

    cards = page.locator("#history-list .history-item")
    expect(page.locator(f'.history-item[data-id="{first}"]')).to_have_attribute("data-status", "completed")
    expect(page.locator(f'.history-item[data-id="{second}"]')).to_have_attribute("data-status", "cancelled")
    expect(cards).to_have_count(2)
    page.wait_for_function(f"""() => {{ const img = document.querySelector('.history-item[data-id="{first}"] img');
        return img && img.complete && img.naturalWidth === 1280; }}""")
    expect(page.locator("#history-count")).to_have_text("2 videos, newest first.")
    shots.take(page, "history")

    page.select_option("#history-status", "completed")
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-id", first)
    shots.take(page, "history-only-completed")
    page.select_option("#history-status", "")
    page.select_option("#history-model", OTHER_ROUTE)
    expect(page.locator("#history-list")).to_have_text("No videos match these filters.")
    page.select_option("#history-model", SEED_ROUTE)
    expect(cards).to_have_count(2)
    expect(page.locator("#history-count")).to_have_text("2 videos match the filters, newest first.")
    page.select_option("#history-model", "")

    page.locator(f'.history-item[data-id="{first}"]').get_by_role("button", name=re.compile("^Open")).click()
    expect(page.locator(".job-id")).to_have_text(first)
    expect(page.locator("#result-video")).to_have_attribute("src", done["outputs"][0])
    expect(page.locator("#result-title")).to_be_focused()

    doomed = page.locator(f'.history-item[data-id="{second}"]')
    doomed.get_by_role("button", name=re.compile("^Delete")).click()
    expect(doomed.locator(".confirm")).to_have_text("Delete this video? This cannot be undone.")
    shots.take(page, "delete-confirm")
    doomed.get_by_role("button", name="Delete for good").click()
    expect(cards).to_have_count(1)
    expect(page.locator("#history-count")).to_have_text("1 video, newest first.")
    assert result(server, second).status_code == 404
    shots.take(page, "after-delete")
    watched.assert_clean()


def test_a_key_refused_while_signed_in_signs_the_page_out(
    browser: Any, shots: Screenshots, start_sqlite_server: ServerFactory
) -> None:
    server = start_sqlite_server(workers=0)
    created = server.runtime.keys.create("soon revoked", balance_usd="3")
    watched = open_page(browser, server)
    page = watched.page
    sign_in(page, server, created.secret)
    expect(page.locator("#balance")).to_have_text("$3.00")
    expect(page.locator("#history-list")).to_have_text("No videos yet: the ones you make appear here.")
    server.runtime.keys.revoke(created.info.id)
    page.locator("#history-refresh").click()
    expect(page.locator("#sign-in .notice.error")).to_have_text("The API key was refused: Invalid or revoked API key.")
    expect(page.locator("#app")).to_be_hidden()
    assert page.evaluate("() => sessionStorage.getItem('reelserve.studio.apiKey')") is None
    shots.take(page, "signed-out")
    watched.assert_clean()


def test_refusals_are_shown_next_to_what_caused_them(
    browser: Any, shots: Screenshots, start_sqlite_server: ServerFactory, tmp_path: Path
) -> None:
    terms = tmp_path / "policy.txt"
    terms.write_text("acme logo\n")
    server = start_sqlite_server(workers=0, content_policy_file=terms)
    poor = server.runtime.keys.create("almost empty", balance_usd="0.30").secret
    picture = tmp_path / "lake.jpg"
    picture.write_bytes(scene_bytes(960, 540))
    watched = open_page(browser, server)
    page = watched.page
    sign_in(page, server, poor)
    page.set_input_files("#image-file", str(picture))
    expect(page.locator(".upload-state")).to_have_text("✓ Uploaded")

    page.get_by_label("Prompt", exact=True).fill("the ACME logo spinning")
    page.get_by_role("button", name=re.compile("^Generate")).click()
    expect(page.locator("#prompt-error")).to_contain_text("Blocked by the content policy:")
    expect(page.get_by_label("Prompt", exact=True)).to_have_attribute("aria-invalid", "true")
    shots.take(page, "prompt-blocked")

    page.get_by_label("Prompt", exact=True).fill("The moon rises over the lake")
    page.locator("#duration").fill("10")
    page.get_by_role("button", name=re.compile("^Generate")).click()
    expect(page.locator("#prompt-error")).to_have_text("")
    expect(page.locator("#form-error")).to_contain_text("Not enough balance:")
    shots.take(page, "not-enough-balance")

    expect(page.locator("#sound")).to_have_count(0)  # the motion engine makes no sound: no such choice
    page.select_option("#model", "kwaivgi/kling-v2.5-turbo-pro/image-to-video")
    expect(page.locator("#end-image-note")).to_have_text(
        "This route takes an end frame, but the motion engine serving it here cannot follow one, so none is offered.")
    expect(page.locator("#duration-output")).to_have_text("10 s")
    page.select_option("#model", "kwaivgi/kling-v3.0-std/image-to-video")
    expect(page.locator("#end-image-note")).to_have_count(0)
    expect(page.locator("#multi-prompt-on")).to_be_visible()
    page.get_by_label("Tell it in shots (multi_prompt)").check()
    shots_list = page.locator(".segment")
    expect(shots_list).to_have_count(2)
    expect(page.locator("#segment-sum")).to_have_text("5 + 5 = 10 s, the whole video. ✓")
    page.get_by_label("Shot 1 prompt").fill("The moon rises")
    page.get_by_label("Shot 2 prompt").fill("Its light spreads on the water")
    page.get_by_label("Shot 2 seconds").fill("4")
    expect(page.locator("#segment-sum")).to_have_text(
        "5 + 4 = 9 s, but the video is 10 s long: the shots must add up to it exactly.")
    page.get_by_role("button", name=re.compile("^Generate")).click()
    expect(page.locator("#multi-prompt-error")).to_have_text(
        "The shots add up to 9 s; make them add up to the 10 s of the video.")
    page.locator("#duration").fill("3")
    page.get_by_label("Shot 1 seconds").fill("1.5")
    page.get_by_label("Shot 2 seconds").fill("1.5")
    expect(page.locator("#segment-sum")).to_have_text("1.5 + 1.5 = 3 s, the whole video. ✓")
    page.get_by_role("button", name=re.compile("^Generate")).click()
    expect(page.locator(".job .badge")).to_have_text("Queued")
    made = result(server, shown_job_id(page), poor).json()["data"]
    assert made["input"]["multi_prompt"] == [
        {"index": 1, "prompt": "The moon rises", "duration": "1.5"},
        {"index": 2, "prompt": "Its light spreads on the water", "duration": "1.5"},
    ]
    shots.take(page, "multi-prompt-queued")
    watched.assert_clean()
