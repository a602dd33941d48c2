"""Debian's Chromium driven by Playwright for Python, kept off every network but loopback; screenshots of each
step of a browser test written under test-artifacts/screenshots/ (ignored by git)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("REELSERVE_TEST_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium reaches for Google's services at every start.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-default-apps", "--disable-extensions",
    "--metrics-recording-only", "--no-default-browser-check", "--disable-features=Translate,OptimizationHints",
]
SCREENSHOTS = Path(
    os.environ.get("REELSERVE_SCREENSHOTS", Path(__file__).parents[2] / "test-artifacts" / "screenshots")
)


def launch_chromium(playwright: Any) -> Any:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium is needed for the studio's browser tests and is not at {CHROMIUM}: "
            "install Debian's package (apt-get install -y chromium; `make test` does) "
            "or set REELSERVE_TEST_CHROMIUM",
            pytrace=False,
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def start_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is needed for the studio's browser tests: pip install playwright "
                    "(the `test` extra; `make test` installs it)", pytrace=False)
    return sync_playwright().start()


class Screenshots:
    """Numbered screenshots of one test's steps, in a folder of its own that each run starts empty."""

    def __init__(self, test_name: str) -> None:
        self.folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.count = 0

    def take(self, page: Any, name: str, full_page: bool = True) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path
