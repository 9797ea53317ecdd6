"""The README's pictures of ``allm sync`` and ``allm ask``, taken from the real command: ``make captures``.

Starts the built-in emulator, runs the ``allm`` command line (the same entry point as the installed
``allm``) in a pseudo-terminal, and reads everything it draws through a terminal emulator (``pyte``),
so a picture shows what a terminal shows: the progress bars redrawn in place, a long answer wrapped at
the terminal's width, colours. Each screen is saved as SVG by ``rich``:

- ``sync-progress.svg``: ``allm sync`` of the demo's samples, midway (bars in progress);
- ``sync.svg``: the same run once it ended: the bars, the report, and the error line of the file that
  validation refused;
- ``ask.svg``: ``allm ask`` with the streamed answer and its sources.

The emulator takes 0.4 s per upload, one upload at a time (a busy server), so the sync lasts long
enough for the bars to be caught midway. Times, rates, the date in the emulator's stub answer and the
temporary folder's name change from one run to the next; everything else is the same every time.

    python docs/captures/make_captures.py [--out docs/captures]
"""

from __future__ import annotations

import argparse
import fcntl
import io
import os
import pty
import re
import select
import shlex
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pyte
from rich.console import Console
from rich.style import Style
from rich.text import Text

from anythingllm_bridge.cli.demo import DEMO_TYPES, QUESTION, demo_files
from anythingllm_bridge.testing import Emulator, EmulatorThread, LatencyProfile

COLUMNS, ROWS = 100, 60
KEY = "CAPTURE-KEY"
WORKSPACE = "Observatory"
SLUG = "observatory"
SOURCE = "observatory"  # the folder of samples, in the commands' working folder
TIMEOUT = 120.0  # seconds one command may take before the capture gives up on it

#: a busy server: each upload takes 0.4 s and uploads are served one at a time
BUSY_SERVER = LatencyProfile.from_dict(
    {
        "name": "captures",
        "measured": "not measured: 0.4 s per upload, one at a time, so the sync's bars are caught midway",
        "costs": {"upload": {"serial": 0.4}},
    }
)

_BAR = re.compile(r"^(upload|embed)\s.*?(\d+)/(\d+)")


class Terminal:
    """A terminal ``COLUMNS`` wide: runs a command on a pseudo-terminal and keeps what it draws."""

    def __init__(self, columns: int = COLUMNS, rows: int = ROWS) -> None:
        self.columns, self.rows = columns, rows
        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.ByteStream(self.screen)

    def run(
        self,
        args: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        on_draw: Callable[[pyte.Screen], None] | None = None,
    ) -> int:
        """Show ``$ allm ARGS``, run it, feed its output to the screen (calling ``on_draw`` after
        each piece); return its exit code."""
        self.stream.feed(f"$ {shlex.join(['allm', *args])}\r\n".encode())
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.rows, self.columns, 0, 0))
        command = [sys.executable, "-m", "anythingllm_bridge.cli", *args]
        process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd)
        os.close(slave)
        deadline = time.monotonic() + TIMEOUT
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"allm {shlex.join(args)} took more than {TIMEOUT:.0f} s")
                ready, _, _ = select.select([master], [], [], left)
                if not ready:
                    continue
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every copy of the terminal's other end is closed
                    break
                if not data:
                    break
                self.stream.feed(data)
                if on_draw is not None:
                    on_draw(self.screen)
            return process.wait(timeout=max(deadline - time.monotonic(), 1.0))
        finally:
            os.close(master)
            if process.poll() is None:
                process.kill()
                process.wait()

    def lines(self) -> list[Text]:
        """The screen as styled lines, without the blank ones at the bottom."""
        return screen_lines(self.screen)


def screen_lines(screen: pyte.Screen) -> list[Text]:
    """Every line of ``screen`` as rich ``Text`` with the characters' colours and attributes."""
    lines = []
    for y in range(screen.lines):
        row = screen.buffer[y]
        text = Text(no_wrap=True)
        run, style = "", Style()
        for x in range(screen.columns):
            char = row[x]
            char_style = _style(char)
            if char_style != style:
                text.append(run, style)
                run, style = "", char_style
            run += char.data
        text.append(run, style)
        text.rstrip()
        lines.append(text)
    while lines and not lines[-1].plain:
        lines.pop()
    return lines


def _style(char: pyte.screens.Char) -> Style:
    return Style(
        color=_colour(char.fg),
        bgcolor=_colour(char.bg),
        bold=char.bold or None,
        italic=char.italics or None,
        underline=char.underscore or None,
        reverse=char.reverse or None,
    )


def _colour(name: str) -> str | None:
    """pyte's colour (``default``, ``red``, ``brightbrown``, ``f92672``) as rich names it."""
    if name == "default":
        return None
    if re.fullmatch(r"[0-9a-fA-F]{6}", name):
        return "#" + name
    bright = name.startswith("bright")
    base = name.removeprefix("bright").replace("brown", "yellow")
    return f"bright_{base}" if bright else base


def save_svg(lines: list[Text], path: Path, title: str) -> None:
    """Write ``lines`` as a terminal window picture (SVG) titled ``title``."""
    console = Console(
        record=True, width=COLUMNS, file=io.StringIO(), force_terminal=True, color_system="truecolor"
    )
    for line in lines:
        console.print(line, soft_wrap=True)
    console.save_svg(str(path), title=title)


class MidSync:
    """Keeps the last screen on which both bars are drawn and the send bar is not full yet."""

    def __init__(self) -> None:
        self.lines: list[Text] | None = None

    def __call__(self, screen: pyte.Screen) -> None:
        """Look at a screen just drawn."""
        bars = {}
        for row in screen.display:
            found = _BAR.match(row)
            if found:
                bars[found[1]] = (int(found[2]), int(found[3]))
        if "upload" in bars and "embed" in bars and bars["upload"][0] < bars["upload"][1]:
            self.lines = screen_lines(screen)


def environment(home: Path, url: str) -> dict[str, str]:
    """The commands' environment: this emulator, and settings and state folders of their own (so no
    setting of the machine's changes a picture)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "COLUMNS": str(COLUMNS),
        "LINES": str(ROWS),
        "ANYTHINGLLM_URL": url,
        "ANYTHINGLLM_API_KEY": KEY,
    }


def make_captures(out: Path) -> list[Path]:
    """Take the pictures into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with (
        tempfile.TemporaryDirectory(prefix="allm-") as tmp,
        EmulatorThread(emulator=Emulator(KEY, latency_profile=BUSY_SERVER)) as running,
    ):
        work = Path(tmp)
        demo_files(work / SOURCE)
        env = environment(work, running.url)

        setup = Terminal()
        create = ["workspaces", "create", WORKSPACE, "--mode", "query", "--similarity-threshold", "0.1"]
        code = setup.run([*create, "--top-n", "4"], env=env, cwd=work)
        if code != 0:
            raise RuntimeError("allm workspaces create failed:\n" + "\n".join(setup.screen.display).rstrip())

        sync, midway = Terminal(), MidSync()
        code = sync.run(
            ["sync", SOURCE, "--workspace", SLUG, "--types", ",".join(DEMO_TYPES)],
            env=env,
            cwd=work,
            on_draw=midway,
        )
        if code != 1:  # 1: one of the samples is refused by validation, on purpose
            raise RuntimeError(f"allm sync exited {code}, not 1:\n" + "\n".join(sync.screen.display).rstrip())
        if midway.lines is None:
            raise RuntimeError("allm sync drew no bars under way (the emulator should have kept it busy)")
        saved.append(out / "sync-progress.svg")
        save_svg(midway.lines, saved[-1], "allm sync (under way)")
        saved.append(out / "sync.svg")
        save_svg(sync.lines(), saved[-1], "allm sync")

        ask = Terminal()
        code = ask.run(["ask", SLUG, QUESTION], env=env, cwd=work)
        if code != 0:
            raise RuntimeError(f"allm ask exited {code}:\n" + "\n".join(ask.screen.display).rstrip())
        saved.append(out / "ask.svg")
        save_svg(ask.lines(), saved[-1], "allm ask")
    return saved


def main(argv: list[str] | None = None) -> None:
    """Command line: ``--out FOLDER`` (default: this script's folder)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="folder for the SVG files")
    args = parser.parse_args(argv)
    for path in make_captures(args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
