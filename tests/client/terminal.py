"""The `reelserve` command run as a person runs it: on a pseudo-terminal, with Ctrl-C as SIGINT."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import time
from dataclasses import dataclass

from tests.support.process import REELSERVE

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")


def cli_env(**extra: str) -> dict[str, str]:
    """This environment without a server or key of its own, plus `extra`."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("REELSERVE_URL", "REELSERVE_API_KEY", "REELSERVE_CONFIG")}
    return {**env, **extra}


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REELSERVE, *args], capture_output=True, text=True, env=cli_env(**env), timeout=300,
                          check=False)


@dataclass
class TerminalRun:
    returncode: int
    output: str
    """What the terminal showed, without the escape sequences that draw it."""


def run_in_terminal(
    *args: str, interrupt_when: str | None = None, interrupt_within: float = 60, timeout: float = 240
) -> TerminalRun:
    """Runs `reelserve ARGS` on a pseudo-terminal; sends SIGINT once the screen matches `interrupt_when`,
    which it must within `interrupt_within` seconds."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [REELSERVE, *args], stdin=terminal, stdout=terminal, stderr=terminal,
        env=cli_env(TERM="xterm-256color", COLUMNS="120"),
    )
    os.close(terminal)
    raw = bytearray()
    interrupted = False
    started = time.monotonic()
    try:
        while True:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"reelserve {' '.join(args)} ran over {timeout} s:\n{screen(raw)}")
            if interrupt_when and not interrupted and time.monotonic() - started > interrupt_within:
                raise AssertionError(f"no {interrupt_when!r} in {interrupt_within} s:\n{screen(raw)}")
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: the program ended and the terminal closed
                    break
                if not chunk:
                    break
                raw += chunk
            if interrupt_when and not interrupted and re.search(interrupt_when, screen(raw)):
                process.send_signal(signal.SIGINT)
                interrupted = True
            if not ready and process.poll() is not None:
                break
        if interrupt_when:
            assert interrupted, f"never saw {interrupt_when!r}:\n{screen(raw)}"
        return TerminalRun(process.wait(60), screen(raw))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        os.close(controller)


def screen(raw: bytes) -> str:
    return ANSI.sub("", raw.decode("utf-8", "replace"))
