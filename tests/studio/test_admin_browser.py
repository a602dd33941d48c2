"""The admin page in Debian's Chromium: refused for a key without the admin role; for an admin, a key created
(shown once, and it works), topped up, limited and revoked; usage, queues, workers and a recent failure shown."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from tests.conftest import SEED_ROUTE, ServerFactory
from tests.studio.pages import expect, open_page, sign_in
from tests.support.browser import Screenshots
from tests.support.images import image_bytes

IMAGE_BODY = {"prompt": "slowly zoom in", "duration": 15}


def balance_with(server: Any, key: str) -> Any:
    return server.client.get("/api/v3/balance", headers={"Authorization": key})


def test_admin_page_creates_a_key_and_tops_it_up(
    browser: Any, shots: Screenshots, start_sqlite_server: ServerFactory, tmp_path: Path
) -> None:
    config = tmp_path / "reelserve.toml"
    config.write_text(f'[routes."{SEED_ROUTE}"]\nengine = "motion"\nmax_run_seconds = 1\n')
    server = start_sqlite_server(workers=1, config=config)
    admin = server.runtime.keys.create("ops", balance_usd="50", role="admin").secret
    upload = server.client.post("/api/v3/media/upload/binary",
                                files={"file": ("street.png", image_bytes(640, 360), "image/png")}).json()["data"]
    stopped = server.submit(SEED_ROUTE, {**IMAGE_BODY, "image": upload["download_url"]}).json()["data"]["id"]
    deadline = time.monotonic() + 120
    while server.client.get(f"/api/v3/predictions/{stopped}/result").json()["data"]["status"] != "timeout":
        assert time.monotonic() < deadline
        time.sleep(0.1)

    watched = open_page(browser, server)
    page = watched.page
    page.goto(server.base_url + "/studio/admin")
    page.get_by_label("API key").fill(server.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#key-error")).to_have_text("Not allowed: This endpoint needs an API key with the admin role.")
    shots.take(page, "not-an-admin-refused")

    sign_in(page, server, admin, "/studio/admin")
    expect(page.locator("#balance")).to_have_text("$50.00")
    keys = page.locator("#keys-table tbody tr")
    expect(keys).to_have_count(2)
    expect(page.locator("#failures-table")).to_contain_text("the job ran longer than its limit of 1 s and was stopped")
    expect(page.locator("#failures-table")).to_contain_text("Timed out")
    expect(page.locator("#queues-table tbody tr").first).to_be_visible()
    worker = page.locator("#workers-table tbody tr")
    expect(worker).to_have_count(1)  # the server's own worker thread, reporting itself like any worker process
    expect(worker).to_contain_text("every queue")
    expect(worker).to_contain_text("alive")
    expect(worker).to_contain_text("of 1")
    expect(page.locator("svg.spent-chart rect.bar")).to_have_count(30)
    expect(page.locator("svg.balance-chart path.line")).to_have_count(1)
    shots.take(page, "overview")

    page.get_by_label("Name", exact=True).fill("Marketing team")
    page.get_by_label("Opening balance (USD)").fill("5")
    page.get_by_label("Requests a minute").fill("30")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key-notice")).to_contain_text("Key “Marketing team” created. Copy it now")
    secret = page.locator("#new-key-secret").input_value()
    assert re.fullmatch(r"sk-[0-9a-f]{48}", secret)
    expect(page.locator("#new-key-secret")).to_be_focused()
    expect(keys).to_have_count(3)
    assert balance_with(server, secret).json()["data"]["balance"] == 5
    shots.take(page, "key-created")
    page.get_by_role("button", name="Done").click()
    expect(page.locator("#new-key-secret")).to_have_count(0)
    assert secret not in page.content(), "the new key is shown once"

    row = page.locator("#keys-table tbody tr", has_text="Marketing team")
    expect(row).to_contain_text("30/min")
    row.get_by_role("button", name="Top up Marketing team").click()
    amount = page.get_by_label("Add to Marketing team's balance (USD)")
    amount.fill("0")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator(".editor .field-error")).to_have_text('Amount: Input should be greater than 0 (got "0")')
    expect(amount).to_have_attribute("aria-invalid", "true")
    shots.take(page, "top-up-refused")
    amount.fill("10")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#topup-notice")).to_have_text("Added $10.00 to “Marketing team”: the balance is now $15.00.")
    expect(row.locator(".balance-cell")).to_have_text("$15.00")
    assert balance_with(server, secret).json()["data"]["balance"] == 15
    shots.take(page, "topped-up")

    row.get_by_role("button", name="Usage of Marketing team").click()
    expect(page.locator("#usage-topped-up")).to_have_text("$15.00")
    expect(page.locator("#usage-balance")).to_have_text("$15.00")
    page.get_by_label("Hourly, 48 hours").check()
    expect(page.locator("svg.spent-chart rect.bar")).to_have_count(48)
    shots.take(page, "usage-of-the-new-key")

    row.get_by_role("button", name="Limits of Marketing team").click()
    page.locator(".editor").get_by_label("Jobs at once").fill("2")
    page.get_by_role("button", name="Save limits").click()
    expect(row).to_contain_text("2 at once")
    key_id = row.get_attribute("data-key-id")
    shown = server.client.get(f"/admin/keys/{key_id}", headers={"Authorization": admin}).json()["data"]
    assert shown["max_concurrency"] == 2 and shown["rpm"] == 30

    row.get_by_role("button", name="Revoke Marketing team").click()
    page.get_by_role("button", name="Revoke for good").click()
    expect(row.locator(".badge.revoked")).to_have_text("revoked")
    assert balance_with(server, secret).status_code == 401
    shots.take(page, "revoked")
    watched.assert_clean()
