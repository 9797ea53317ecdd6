"""How a sync shows its progress: rich bars on a terminal, plain lines otherwise, or nothing.

The sync calls a :class:`Progress`; it never prints by itself. A run has one progress: ``busy``
while it lists and hashes (before there is anything to send), ``start`` once with everything there
is to send, ``sent`` as each upload goes through, ``embedded`` as documents are confirmed in the
workspace, ``file_done`` once per file when its outcome is final (a file that failed in a way worth
another pass is only ``retrying`` until a later pass settles it),
``waiting`` whenever the run waits for the server (an open circuit breaker, a backoff between
attempts), ``finish`` once. So the counts never pass their totals, whatever the passes.

``rich`` is imported only when :class:`RichProgress` is created, so the library does not need it.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol, TextIO

from anythingllm_bridge.ingest.report import display_key

__all__ = ["LineProgress", "NullProgress", "Progress", "RichProgress", "human_bytes", "make_progress"]


class Progress(Protocol):
    """What a sync tells about its progress (every method is called on the event loop)."""

    def busy(self, what: str) -> None:
        """The run is doing ``what`` (listing the source, hashing files), which may take a while."""

    def start(self, files: int, total_bytes: int) -> None:
        """Sending begins: ``files`` files of ``total_bytes`` bytes in all (once per run)."""

    def sent(self, key: str, size: int) -> None:
        """A file's upload went through (its document is confirmed later, see ``embedded``)."""

    def file_done(self, key: str, size: int, status: str, detail: str = "") -> None:
        """A file's outcome is final: ``uploaded``, ``replaced``, ``unchanged``, ``rejected``,
        ``failed`` (once per file started)."""

    def retrying(self, key: str, detail: str) -> None:
        """A file failed in a way worth another pass (``detail`` says how); a later pass settles it."""

    def embedded(self, count: int) -> None:
        """``count`` more documents are confirmed in the workspace."""

    def waiting(self, what: str, seconds: float) -> None:
        """The run waits ``seconds`` for the server; ``what`` says why."""

    def note(self, message: str) -> None:
        """Something worth a line of its own (a new pass, a removal)."""

    def finish(self) -> None:
        """The run is over (once)."""


class NullProgress:
    """Shows nothing (library use)."""

    def busy(self, what: str) -> None:
        """Nothing."""

    def start(self, files: int, total_bytes: int) -> None:
        """Nothing."""

    def sent(self, key: str, size: int) -> None:
        """Nothing."""

    def file_done(self, key: str, size: int, status: str, detail: str = "") -> None:
        """Nothing."""

    def retrying(self, key: str, detail: str) -> None:
        """Nothing."""

    def embedded(self, count: int) -> None:
        """Nothing."""

    def waiting(self, what: str, seconds: float) -> None:
        """Nothing."""

    def note(self, message: str) -> None:
        """Nothing."""

    def finish(self) -> None:
        """Nothing."""


class LineProgress:
    """One plain line per file and per wait (logs, pipes, CI)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._embedded = 0
        self._files = 0

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def busy(self, what: str) -> None:
        """Prints what the run is doing."""
        self._print(f"{what} ...")

    def start(self, files: int, total_bytes: int) -> None:
        """Prints what there is to send."""
        self._files = files
        self._print(f"sending {files} file(s), {human_bytes(total_bytes)}")

    def sent(self, key: str, size: int) -> None:
        """Prints the upload (its outcome follows once the workspace confirms it)."""
        self._print(f"sent      {display_key(key)} ({human_bytes(size)})")

    def file_done(self, key: str, size: int, status: str, detail: str = "") -> None:
        """Prints the file's outcome (with the reason for a rejected or failed one)."""
        suffix = f": {display_key(detail)}" if detail and status in ("rejected", "failed") else ""
        self._print(f"{status:<9} {display_key(key)} ({human_bytes(size)}){suffix}")

    def retrying(self, key: str, detail: str) -> None:
        """Prints that the file is tried again in a later pass."""
        self._print(f"retrying  {display_key(key)}: {display_key(_first_clause(detail))}")

    def embedded(self, count: int) -> None:
        """Counts confirmed documents (printed by ``finish``)."""
        self._embedded += count

    def waiting(self, what: str, seconds: float) -> None:
        """Prints what the run waits for, and how long."""
        self._print(f"waiting   {seconds:.0f} s: {what}" if seconds >= 1 else f"waiting   {what}")

    def note(self, message: str) -> None:
        """Prints the message."""
        self._print(display_key(message))

    def finish(self) -> None:
        """Prints how many documents were confirmed in the workspace."""
        if self._files:
            self._print(f"embedded  {self._embedded} document(s) in the workspace")


class RichProgress:
    """Two bars on a terminal, for the whole run: files sent (with bytes, rate and time left) and
    documents confirmed in the workspace; a status line says what the run waits for."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichBars

        self.console = console or Console(stderr=True)
        self.bars = RichBars(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[extra]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._upload: Any = None
        self._embed: Any = None
        self.total_bytes = 0
        self.done_bytes = 0
        self._started = time.monotonic()
        self._running = False
        self._sent: set[str] = set()  # the files the send bar counts already

    def start(self, files: int, total_bytes: int) -> None:
        """Shows the two bars (a second call only grows their totals: one set of bars per run)."""
        if self._upload is not None:
            self.total_bytes += total_bytes
            for task in (self._upload, self._embed):
                self.bars.update(task, total=(self.bars.tasks[task].total or 0) + files)
            return
        self.total_bytes = total_bytes
        self._started = time.monotonic()
        self.bars.start()
        self._running = True
        self._upload = self.bars.add_task("upload", total=files, extra=self._bytes_text())
        self._embed = self.bars.add_task("embed", total=files, extra="")

    def busy(self, what: str) -> None:
        """Prints what the run is doing (before the bars start; then on the send bar)."""
        if self._upload is not None:
            self.bars.update(self._upload, extra=_escape(what))
        else:
            self._print(_escape(f"{what} ..."))

    def sent(self, key: str, size: int) -> None:
        """Advances the send bar (and its bytes)."""
        if key in self._sent:
            return
        self._sent.add(key)
        self.done_bytes = min(self.done_bytes + max(size, 0), self.total_bytes)
        if self._upload is not None:
            self.bars.update(self._upload, advance=1, extra=self._bytes_text())

    def _bytes_text(self) -> str:
        text = f"{human_bytes(self.done_bytes)}/{human_bytes(self.total_bytes)}"
        elapsed = time.monotonic() - self._started
        if self.done_bytes and elapsed > 0:
            text += f" {human_bytes(int(self.done_bytes / elapsed))}/s"
        return text

    def file_done(self, key: str, size: int, status: str, detail: str = "") -> None:
        """Advances the send bar (unless ``sent`` did); prints a rejected or failed file with its
        reason."""
        if status in ("rejected", "failed"):
            colour = "yellow" if status == "rejected" else "red"
            shown = f"{_escape(display_key(key))}: {_escape(display_key(detail))}"
            self._print(f"[{colour}]{status}[/] {shown}", markup=True)
            if self._embed is not None:  # a file that was not sent will not be embedded either
                task = self.bars.tasks[self._embed]
                self.bars.update(self._embed, total=max((task.total or 1) - 1, task.completed))
        self.sent(key, size)

    def retrying(self, key: str, detail: str) -> None:
        """Nothing to print: the bar advances when a later pass settles the file."""

    def embedded(self, count: int) -> None:
        """Advances the embedded bar."""
        if self._embed is not None:
            self.bars.update(self._embed, advance=count)

    def waiting(self, what: str, seconds: float) -> None:
        """Shows what the run waits for on the send bar (or as a line before the bars start)."""
        text = f"waiting {seconds:.0f} s: {what}" if seconds >= 1 else f"waiting: {what}"
        if self._upload is not None:
            self.bars.update(self._upload, extra=text)
        else:
            self._print(_escape(text))

    def note(self, message: str) -> None:
        """Prints the message above the bars."""
        self._print(_escape(display_key(message)))

    def finish(self) -> None:
        """Stops the bars (they stay on screen as they ended)."""
        if self._upload is not None:
            self.bars.update(self._upload, extra=self._bytes_text())
        if self._running:
            self.bars.stop()
            self._running = False

    def _print(self, text: str, *, markup: bool = False) -> None:
        self.bars.console.print(text, markup=markup, highlight=False)

    def state(self) -> dict[str, tuple[float, float | None]]:
        """Each bar's (completed, total), for tests and embedding programs."""
        return {task.description: (task.completed, task.total) for task in self.bars.tasks}


def make_progress(*, tty: bool | None = None, quiet: bool = False, stream: TextIO | None = None) -> Progress:
    """Bars on a terminal, lines otherwise, nothing when ``quiet``."""
    if quiet:
        return NullProgress()
    stream = stream or sys.stderr
    if tty is None:
        tty = stream.isatty()
    return RichProgress() if tty else LineProgress(stream)


def human_bytes(size: int) -> str:
    """``1234`` → ``"1.2 kB"`` (powers of 1000)."""
    value = float(max(size, 0))
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover


def _first_clause(detail: str) -> str:
    """The start of a long reason, up to its first ``;`` (the rest is advice for a final failure)."""
    return detail.split("; ", 1)[0]


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
