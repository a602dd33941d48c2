"""Time bounds in tests that run in the suite's own process."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """For a timed region: once the suite has loaded torch, transformers and diffusers, one full collection of
    the cyclic garbage collector can pause this process for over a second (1.3 s measured), which is the suite's
    cost, not the cost of the code a test times. (An in-process server freezes what exists when it starts, so tests
    that run one are spared already.)"""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
