"""The studio on a phone-sized screen, by keyboard alone: no sideways scrolling, every control labelled, a focus
ring on everything the Tab key reaches, a file picked and a job submitted without a mouse, and every text at
WCAG AA contrast; the same checks on the admin page. The fetch()-based SSE reader against the standard's edge
cases. The pages ask for nothing beyond reelserve."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import ServerFactory
from tests.studio.pages import expect, open_page, sign_in
from tests.support.browser import Screenshots
from tests.support.images import scene_bytes

CHECKS = (Path(__file__).parent / "checks.js").read_text()
PHONE = {"width": 390, "height": 844}


def check(page: Any, name: str) -> list[str]:
    return page.evaluate(f"() => ({CHECKS}).{name}()")


def assert_fits_and_reads(page: Any, width: int) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width, "no sideways scrolling"
    assert check(page, "unlabelled") == []
    assert check(page, "lowContrast") == []


def tab_until(page: Any, wanted: str | None, most: int) -> list[str]:
    """Presses Tab until the element with id `wanted` has the focus (at most `most` times); each stop must show a
    focus ring. Answers what was focused, in order."""
    reached: list[str] = []
    for _ in range(most):
        page.keyboard.press("Tab")
        assert check(page, "focusRing") == [], reached
        reached.append(page.evaluate("() => document.activeElement.id || document.activeElement.textContent.trim()"))
        if reached[-1] == wanted:
            return reached
    assert wanted is None, f"the Tab key never reached #{wanted}: {reached}"
    return reached


def test_the_studio_on_a_phone_by_keyboard(
    browser: Any, shots: Screenshots, start_sqlite_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_sqlite_server(workers=1)
    picture = tmp_path / "lake.jpg"
    picture.write_bytes(scene_bytes(1024, 768))
    watched = open_page(browser, server, **PHONE)
    page = watched.page
    page.goto(server.base_url + "/studio")
    expect(page.get_by_label("API key")).to_be_focused()
    assert_fits_and_reads(page, PHONE["width"])
    page.keyboard.type(server.key)
    page.keyboard.press("Enter")
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#balance")).to_have_text("$1,000.00")
    expect(page.locator("#history-list")).to_have_text("No videos yet: the ones you make appear here.")
    shots.take(page, "phone-signed-in")
    assert_fits_and_reads(page, PHONE["width"])

    tab_until(page, "image-file", 6)
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(picture))
    expect(page.locator(".upload-state")).to_have_text("✓ Uploaded")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "prompt"
    page.keyboard.type("The moon rises over the lake")
    tab_until(page, "generate", 8)
    shots.take(page, "phone-keyboard-on-generate", full_page=False)
    page.keyboard.press("Enter")
    expect(page.locator("#result-video")).to_be_visible()
    expect(page.locator(".job .badge")).to_have_text("Completed")
    expect(page.locator("#history-list .history-item")).to_have_count(1)
    page.wait_for_function("() => document.querySelector('#history-list img')?.naturalWidth > 0")
    shots.take(page, "phone-completed")
    assert_fits_and_reads(page, PHONE["width"])
    watched.assert_clean()


def test_the_admin_page_on_a_phone(browser: Any, shots: Screenshots, start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server(workers=0)
    admin = server.runtime.keys.create("ops", balance_usd="50", role="admin").secret
    watched = open_page(browser, server, **PHONE)
    page = watched.page
    sign_in(page, server, admin, "/studio/admin")
    expect(page.locator("#keys-table tbody tr")).to_have_count(2)
    expect(page.locator("svg.spent-chart")).to_be_visible()
    shots.take(page, "phone-admin")
    assert_fits_and_reads(page, PHONE["width"])
    tab_until(page, None, 14)
    watched.assert_clean()


SSE_CASES = """async () => {
  const { serverEvents } = await import('/studio/static/js/sse.js');
  const read = async (chunks) => {
    const body = new ReadableStream({ start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
      controller.close();
    } });
    const found = [];
    for await (const event of serverEvents(new Response(body))) found.push(event);
    return found;
  };
  return {
    split: await read(['event: predic', 'tion\\ndata: {"a"', ':1}\\n', '\\n: keep-alive\\n\\n']),
    crlf: await read(['event: prediction\\r', '\\ndata: one\\r\\ndata: two\\r\\n\\r\\n']),
    cr: await read(['data:x\\r\\rdata: y\\r\\r']),
    unfinished: await read(['data: never dispatched']),
  };
}"""


def test_the_event_stream_reader_follows_the_standard(browser: Any, start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server(workers=0)
    watched = open_page(browser, server)
    watched.page.goto(server.base_url + "/studio")
    found = watched.page.evaluate(SSE_CASES)
    assert found == {
        "split": [{"type": "prediction", "data": json.dumps({"a": 1}, separators=(",", ":"))}],
        "crlf": [{"type": "prediction", "data": "one\ntwo"}],
        "cr": [{"type": "message", "data": "x"}, {"type": "message", "data": "y"}],
        "unfinished": [],
    }
    watched.assert_clean()


def test_pages_and_assets_are_served_with_their_protections(start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server(workers=0)
    for path in ("/", "/studio", "/studio/", "/studio/admin"):
        page = server.client.get(path, headers={"Authorization": ""})
        assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "default-src 'none'" in policy
        assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert not re.search(r"https?://", page.text), "no asset from anywhere else"
    script = server.client.get("/studio/static/js/studio.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert server.client.head("/studio/static/studio.css").status_code == 200
    missing = server.client.get("/studio/static/js/nothing.js")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    assert server.client.get("/studio/static/../../app.py").status_code == 404
    assert server.client.post("/studio").status_code == 405
    assert "/studio" not in json.dumps(server.client.get("/openapi.json").json()["paths"])
    behind_proxy = start_sqlite_server(workers=0, public_url="https://videos.example.com/reel")
    policy = behind_proxy.client.get("/studio").headers["content-security-policy"]
    assert "media-src 'self' https://videos.example.com;" in policy, "outputs link to the public URL"
    assert "connect-src 'self';" in policy
    assert server.client.get("/studio/static/studio.html").status_code == 404, "pages only with their headers"
