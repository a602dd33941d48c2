"""Which engine of a route of several takes the next job: the first that a live worker serves and whose wait is
within spill_after_seconds; an engine no live worker serves is down, unless none of the route's is served."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelserve.catalog.bindings import load_route_engines
from reelserve.service.engine_choice import EngineChooser

SEED = "kwaivgi/kling-v2.5-turbo-std/image-to-video"


class Waits:
    """Waits as the queues stand (the real ones are counted from the database: tests/upstream/test_spill_over.py)."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds

    def wait_seconds(self, queue: str) -> float:
        return self.seconds.get(queue, 0.0)


class Workers:
    def __init__(self, queues: set[str]) -> None:
        self.queues = queues

    def serves(self, queue: str) -> bool:
        return queue in self.queues


@pytest.fixture
def engines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOSTED_KEY", "sk-test")
    config = tmp_path / "reelserve.toml"
    config.write_text(f"""
[routes."{SEED}"]
engines = ["local", "hosted"]
spill_after_seconds = 120

[routes."{SEED}".local]
engine = "motion"
queue = "gpu"

[routes."{SEED}".hosted]
engine = "upstream"
provider = "v3"
base_url = "http://127.0.0.1:9"
model = "{SEED}"
api_key_env = "HOSTED_KEY"
queue = "hosted"
""")
    return load_route_engines(config)


@pytest.mark.parametrize(
    ("waits", "served", "chosen"),
    [
        ({"gpu": 60}, {"gpu", "hosted"}, "local"),  # within the threshold
        ({"gpu": 600}, {"gpu", "hosted"}, "hosted"),  # the local queue is long
        ({"gpu": 0}, {"hosted"}, "hosted"),  # the local engine is down: no live worker serves its queue
        ({"gpu": 600, "hosted": 900}, {"gpu", "hosted"}, "local"),  # both long: the shorter wait
        ({"gpu": 600}, set(), "hosted"),  # no worker up for either: the waits alone decide
        ({"gpu": 0}, set(), "local"),
    ],
)
def test_the_next_job_goes_to_the_engine_the_rule_names(
    engines, waits: dict[str, float], served: set[str], chosen: str  # type: ignore[no-untyped-def]
) -> None:
    chooser = EngineChooser(engines, Waits(waits), Workers(served))  # type: ignore[arg-type]
    assert chooser.choose(SEED).label == chosen
