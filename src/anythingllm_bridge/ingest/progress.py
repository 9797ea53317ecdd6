"""How a sync shows its progress: rich bars on a terminal, plain lines otherwise, or nothing.

The pipeline calls a :class:`Progress`; it never prints by itself. ``rich`` is imported only when
:class:`RichProgress` is created, so the library does not need it.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol, TextIO

__all__ = ["LineProgress", "NullProgress", "Progress", "RichProgress", "make_progress"]


class Progress(Protocol):
    def start(self, files: int, total_bytes: int) -> None:
        """Sending begins: ``files`` files of ``total_bytes`` bytes in all."""

    def file_done(self, key: str, size: int, status: str, detail: str = "") -> None:
        """A file left the upload step: ``uploaded``, ``replaced``, ``rejected`` or ``failed``."""

    def embedded(self, count: int) -> None:
        """``count`` more documents are confirmed in the workspace."""

    def note(self, message: str) -> None:
        """Something worth a line of its own."""

    def finish(self) -> None:
        """Sending is over."""


class NullProgress:
    """Shows nothing (library use)."""

    def start(self, files: int, total_bytes: int) -> None:
        pass

    def file_done(self, key: str, size: int, status: str, detail: str = "") -> None:
        pass

    def embedded(self, count: int) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def finish(self) -> None:
        pass


class LineProgress:
    """One plain line per file (logs, pipes, CI)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._embedded = 0
        self._files = 0

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def start(self, files: int, total_bytes: int) -> None:
        self._files = files
        self._print(f"sending {files} file(s), {human_bytes(total_bytes)}")

    def file_done(self, key: str, size: int, status: str, detail: str = "") -> None:
        suffix = f": {detail}" if detail and status in ("rejected", "failed") else ""
        self._print(f"{status:<9} {key} ({human_bytes(size)}){suffix}")

    def embedded(self, count: int) -> None:
        self._embedded += count

    def note(self, message: str) -> None:
        self._print(message)

    def finish(self) -> None:
        if self._files:
            self._print(f"embedded  {self._embedded} document(s) in the workspace")


class RichProgress:
    """Two bars on a terminal: uploads (files, bytes, byte rate, ETA) and embedding (documents)."""

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
        self._bars = RichBars(
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
        self._total_bytes = 0
        self._done_bytes = 0
        self._started = time.monotonic()

    def start(self, files: int, total_bytes: int) -> None:
        self._total_bytes = total_bytes
        self._started = time.monotonic()
        self._bars.start()
        self._upload = self._bars.add_task("upload", total=files, extra=self._bytes_text())
        self._embed = self._bars.add_task("embed", total=files, extra="")

    def _bytes_text(self) -> str:
        text = f"{human_bytes(self._done_bytes)}/{human_bytes(self._total_bytes)}"
        elapsed = time.monotonic() - self._started
        if self._done_bytes and elapsed > 0:
            text += f" {human_bytes(int(self._done_bytes / elapsed))}/s"
        return text

    def file_done(self, key: str, size: int, status: str, detail: str = "") -> None:
        self._done_bytes += size
        if status in ("rejected", "failed"):
            colour = "yellow" if status == "rejected" else "red"
            self._bars.console.print(f"[{colour}]{status}[/] {key}: {detail}", markup=True, highlight=False)
            if self._embed is not None:
                # a file that was not sent will not be embedded either
                task = self._bars.tasks[self._embed]
                self._bars.update(self._embed, total=max((task.total or 1) - 1, task.completed))
        if self._upload is not None:
            self._bars.update(self._upload, advance=1, extra=self._bytes_text())

    def embedded(self, count: int) -> None:
        if self._embed is not None:
            self._bars.update(self._embed, advance=count)

    def note(self, message: str) -> None:
        self._bars.console.print(message, highlight=False)

    def finish(self) -> None:
        self._bars.stop()


def make_progress(*, tty: bool | None = None, quiet: bool = False, stream: TextIO | None = None) -> Progress:
    """Bars on a terminal, lines otherwise, nothing when ``quiet``."""
    if quiet:
        return NullProgress()
    stream = stream or sys.stderr
    if tty is None:
        tty = stream.isatty()
    return RichProgress() if tty else LineProgress(stream)


def human_bytes(size: int) -> str:
    value = float(max(size, 0))
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover
