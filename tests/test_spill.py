"""Which engine of a route takes the next job: local first, the next one when the local wait is too long or
the local engine is down (catalog/spill.py)."""

from __future__ import annotations

from dataclasses import dataclass

from reelserve.catalog.spill import choose_binding


@dataclass(frozen=True)
class Entry:
    label: str


LOCAL, HOSTED, BACKUP = Entry("local"), Entry("hosted"), Entry("backup")
CHAIN = [LOCAL, HOSTED, BACKUP]
ALL_UP = {"local", "hosted", "backup"}


def test_local_takes_the_job_while_its_wait_is_within_the_threshold() -> None:
    assert choose_binding(CHAIN, 120, {"local": 0}, ALL_UP) is LOCAL
    assert choose_binding(CHAIN, 120, {"local": 120}, ALL_UP) is LOCAL


def test_a_long_local_wait_spills_to_the_next_engine() -> None:
    assert choose_binding(CHAIN, 120, {"local": 121}, ALL_UP) is HOSTED
    assert choose_binding(CHAIN, 120, {"local": 500, "hosted": 300, "backup": 10}, ALL_UP) is BACKUP


def test_an_engine_that_is_down_is_passed_over() -> None:
    assert choose_binding(CHAIN, 120, {}, {"hosted", "backup"}) is HOSTED
    assert choose_binding(CHAIN, None, {}, {"backup"}) is BACKUP


def test_when_every_engine_is_busy_the_shortest_wait_wins_the_earlier_on_a_tie() -> None:
    assert choose_binding(CHAIN, 60, {"local": 200, "hosted": 90, "backup": 150}, ALL_UP) is HOSTED
    assert choose_binding(CHAIN, 60, {"local": 90, "hosted": 90, "backup": 90}, ALL_UP) is LOCAL


def test_without_a_threshold_the_first_engine_that_is_up_always_takes_it() -> None:
    assert choose_binding(CHAIN, None, {"local": 10_000}, ALL_UP) is LOCAL


def test_nothing_up_means_no_binding() -> None:
    assert choose_binding(CHAIN, 120, {}, set()) is None
    assert choose_binding([], 120, {}, ALL_UP) is None
