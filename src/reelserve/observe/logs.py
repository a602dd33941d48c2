"""Log lines: plain text for a terminal (the default) or one JSON object per line (REELSERVE_LOG_FORMAT=json), each
carrying the ids of its request or job (context.py), and the access log's policy (on, off, or a sample).

A line with something to say beyond its message passes it as `extra={"fields": {...}}` (an `event` name and its
figures); the JSON line holds those fields beside its ids, the text line shows its ids after the message.
"""

from __future__ import annotations

import logging
import random
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from reelserve.observe import context

ACCESS_LOGGER = "reelserve.access"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
IDS = ("request_id", "key_id", "prediction_id", "worker")


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The line's ids (from its context) and fields (from `extra`), the latter winning."""
    found: dict[str, Any] = {}
    current = context.current()
    if current is not None:
        found.update(current.fields())
    extra = getattr(record, "fields", None)
    if extra:
        found.update(extra)
    return found


class _Seconds:
    """The time of a record to the second, formatted once per second rather than once per line."""

    def __init__(self, render: Callable[[int], str]) -> None:
        self.render = render
        self.second = -1
        self.text = ""

    def __call__(self, created: float) -> str:
        second = int(created)
        if second != self.second:
            self.second, self.text = second, self.render(second)
        return self.text


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", ids..., fields..., "exc"}` on one line."""

    def __init__(self) -> None:
        super().__init__()
        self._seconds = _Seconds(lambda second: datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": f"{self._seconds(record.created)}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(fields_of(record))
        if record.exc_info:
            line["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """The usual line, followed by its ids as `name=value` (its other fields are for JSON: the message says
    them)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._seconds = _Seconds(lambda second: time.strftime(self.default_time_format, time.localtime(second)))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return f"{self._seconds(record.created)},{int(record.msecs):03d}"

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        found = fields_of(record)
        ids = [f"{name}={found[name]}" for name in IDS if found.get(name) is not None]
        return line + " " + " ".join(ids) if ids else line


def configure_logging(log_format: str, level: str) -> None:
    """The process's logging: one handler on the root logger, on standard error, in the chosen format; uvicorn's
    loggers pass their lines to it, and so do Python's warnings."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Neither format shows a line's source file, thread or process: not collecting them makes every line
    # cheaper (the logging HOWTO's "Optimization"), the access log's above all.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    logging.captureWarnings(True)


@dataclass(frozen=True)
class AccessLog:
    """Which requests the access log writes: all (`on`), none (`off`), or a random fraction of them and every
    request answered with a 5xx (`sample:R`)."""

    rate: float
    every_server_error: bool = True

    @classmethod
    def parse(cls, setting: str) -> AccessLog:
        if setting == "on":
            return cls(1.0)
        if setting == "off":
            return cls(0.0, every_server_error=False)
        name, _, value = setting.partition(":")
        try:
            rate = float(value) if name == "sample" else -1.0
        except ValueError:
            rate = -1.0
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"access log: {setting!r} is not on, off or sample:R with R from 0 to 1")
        return cls(rate)

    @property
    def enabled(self) -> bool:
        return self.rate > 0.0 or self.every_server_error

    def wants(self, status: int) -> bool:
        rate = self.rate
        if rate >= 1.0 or (status >= 500 and self.every_server_error):
            return True
        return rate > 0.0 and random.random() < rate


access_logger = logging.getLogger(ACCESS_LOGGER)
