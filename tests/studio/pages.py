"""What the browser tests share: a page that may reach only the reelserve under test, and a note of every
script error and every request it tried to make anywhere else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

try:
    from playwright.sync_api import expect
except ImportError as missing:
    raise ImportError("Playwright for Python is needed for the studio's browser tests: pip install playwright "
                      "(in the `test` extra; `make test` installs it)") from missing

from tests.support.server import RunningServer

LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}
TIMEOUT_MS = 120_000

expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class Watched:
    page: Any
    errors: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.errors == [], f"script errors on the page: {self.errors}"
        assert self.elsewhere == [], f"the page reached beyond reelserve: {self.elsewhere}"


def open_page(browser: Any, server: RunningServer, width: int = 1280, height: int = 900) -> Watched:
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watched = Watched(page)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))

    def only_loopback(route: Any) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:")) or host in LOOPBACK or f"[{host}]" in LOOPBACK:
            route.continue_()
        else:
            watched.elsewhere.append(url)
            route.abort()

    context.route("**/*", only_loopback)
    return watched


def sign_in(page: Any, server: RunningServer, key: str, path: str = "/") -> None:
    page.goto(server.base_url + path)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#app")).to_be_visible()
