"""Retry-After, as the client and the upstream engine read it from the answers they get."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from reelserve.net.retry_after import retry_after_seconds

NOW = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "seconds"), [
    ("2", 2.0),
    ("0.5", 0.5),
    ("-3", 0.0),
    (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
    ("Fri, 04 Dec 2026 12:00:45 -0000", 45.0),
    ("Fri, 04 Dec 2026 13:00:10 +0100", 10.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ("soon", None),
    ("inf", None),
    ("nan", None),
    ("1e999", None),
    ("", None),
    (None, None),
])
def test_seconds_or_an_http_date(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


def test_a_date_is_counted_from_now() -> None:
    in_half_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after_seconds(in_half_a_minute) or 0) <= 31
