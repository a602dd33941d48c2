"""Fake providers on loopback (one of each, shared by the tests of a session) and their credentials."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.support.fake_providers.fal import FakeFal
from tests.support.fake_providers.kling import FakeKling
from tests.support.fake_providers.replicate import FakeReplicate
from tests.support.fake_providers.v3 import FakeV3

CREDENTIALS = {
    "FAKE_V3_KEY": "sk-v3-" + secrets.token_hex(16),
    "FAKE_KLING_ACCESS_KEY": "ak-" + secrets.token_hex(12),
    "FAKE_KLING_SECRET_KEY": "kling-secret-" + secrets.token_hex(16),
    "FAKE_FAL_KEY": "fal-" + secrets.token_hex(8) + ":" + secrets.token_hex(16),
    "FAKE_REPLICATE_TOKEN": "r8_" + secrets.token_hex(18),
}


@pytest.fixture(scope="session")
def fakes() -> Iterator[dict[str, FakeV3 | FakeKling | FakeFal | FakeReplicate]]:
    started = {
        "v3": FakeV3(CREDENTIALS["FAKE_V3_KEY"]).start(),
        "kling": FakeKling(CREDENTIALS["FAKE_KLING_ACCESS_KEY"], CREDENTIALS["FAKE_KLING_SECRET_KEY"]).start(),
        "fal": FakeFal(CREDENTIALS["FAKE_FAL_KEY"]).start(),
        "replicate": FakeReplicate(CREDENTIALS["FAKE_REPLICATE_TOKEN"]).start(),
    }
    yield started
    for fake in started.values():
        fake.stop()


@pytest.fixture
def providers(
    fakes: dict[str, FakeV3 | FakeKling | FakeFal | FakeReplicate], monkeypatch: pytest.MonkeyPatch
) -> dict[str, FakeV3 | FakeKling | FakeFal | FakeReplicate]:
    """The fakes, reset, with their credentials in the environment (and nowhere else)."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for fake in fakes.values():
        fake.reset()
    return fakes
