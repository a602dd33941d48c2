"""Reading /metrics as Prometheus would: the text parsed by prometheus-client's own parser, into samples that a
test can subtract (a test process's counters outlive the servers it starts, so tests compare before and after)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, tuple[tuple[str, str], ...]]
Samples = dict[Key, float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def scrape(client: httpx.Client, token: str, url: str = "/metrics") -> Samples:
    answer = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain"), answer.headers
    return parse(answer.text)


def value(samples: Mapping[Key, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def changes(after: Mapping[Key, float], before: Mapping[Key, float], name: str) -> dict[tuple[tuple[str, str], ...],
                                                                                       float]:
    """Every series of `name` that moved between the two scrapes, by its labels, with how far."""
    moved = {}
    for (found, labels), figure in after.items():
        if found == name:
            difference = figure - before.get((found, labels), 0.0)
            if abs(difference) > 1e-12:
                moved[labels] = difference
    return moved


def labels(**given: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(given.items()))
