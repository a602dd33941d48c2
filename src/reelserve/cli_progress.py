"""What `reelserve generate` shows while it works: queued at position N, rendering X% with the time left,
downloading. A progress bar on a terminal; one line per step otherwise (logs, pipes)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from reelserve.client import Prediction
from reelserve.sizes import format_bytes

PLAIN_STEP_PERCENT = 10


class GenerationProgress:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar = console.is_terminal
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
            TimeRemainingColumn(), console=console, transient=False,
        )
        self.task: TaskID | None = None
        self.phase = ""
        self._last_line = ""

    def __enter__(self) -> GenerationProgress:
        if self.bar:
            self.progress.start()
            self.task = self.progress.add_task("starting", total=None)
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _traceback: TracebackType | None
    ) -> None:
        if self.bar:
            self.progress.stop()

    def step(self, description: str) -> None:
        """A step without a measure of its own (uploading, submitting, cancelling)."""
        self._show("step:" + description, description, None, None)

    def finished(self, description: str) -> None:
        """The last step: a full bar on a terminal, the description alone in a log."""
        if self.bar:
            self._show("finished", description, 1, 1)
        else:
            self._line(description, None, None)

    def prediction(self, prediction: Prediction) -> None:
        if prediction.status == "created":
            position = f" at position {prediction.queue_position}" if prediction.queue_position else ""
            starts = _starts_in(prediction.estimated_start_at)
            self._show("queued", f"queued{position}{starts}", None, None)
        elif prediction.status == "processing":
            self._show("rendering", "rendering", 100, prediction.progress or 0)
        else:
            self._show("ended", prediction.status, 100, 100 if prediction.succeeded else None)

    def downloaded(self, done: int, total: int | None) -> None:
        size = f" {format_bytes(total)}" if total else ""
        self._show("downloading", f"downloading{size}", total, done)

    def _show(self, phase: str, description: str, total: int | None, completed: int | None) -> None:
        new_phase = phase != self.phase
        self.phase = phase
        if not self.bar:
            self._line(description, total, completed)
            return
        assert self.task is not None
        if new_phase:
            # A new measure: the time left is estimated from this phase's own speed.
            self.progress.reset(self.task, total=total, completed=completed or 0, description=description)
        else:
            self.progress.update(self.task, total=total, completed=completed or 0, description=description)
        self.progress.refresh()

    def _line(self, description: str, total: int | None, completed: int | None) -> None:
        line = description
        if total and completed is not None:
            percent = int(100 * completed / total)
            line = f"{description} {percent - percent % PLAIN_STEP_PERCENT}%"
        if line != self._last_line:
            self._last_line = line
            self.console.print(line, highlight=False)


def _starts_in(moment: datetime | None) -> str:
    if moment is None:
        return ""
    seconds = round((moment - datetime.now(UTC)).total_seconds())
    return f", starts in about {seconds} s" if seconds > 0 else ""
