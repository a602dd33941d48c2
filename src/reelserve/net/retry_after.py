"""Retry-After as an answer gives it (RFC 9110, section 10.2.3): a number of seconds, or an HTTP date.

The standard library only: the client package, which depends on nothing of the server's, reads it too."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """The wait the header asks for, never negative; None where there is no header or it says neither."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # float() also reads "inf", "nan" and "1e999": no wait at all was asked for.
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000": UTC, though the sender did not say where it is
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
