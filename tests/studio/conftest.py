from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import Screenshots, launch_chromium, start_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = start_playwright()
    try:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(request.node.name)


@pytest.fixture
def page_errors() -> list[str]:
    """Script errors a page throws; each browser test ends asserting there were none."""
    return []
