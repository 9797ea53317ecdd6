"""``docs/captures/make_captures.py`` (``make captures``): the README's pictures of ``allm sync`` and
``allm ask`` come from the real command on the emulator, and show what a terminal shows."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "docs" / "captures" / "make_captures.py"
_TEXT = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)" textLength="([\d.]+)"[^>]*>(.*?)</text>')


def svg_lines(path: Path) -> list[str]:
    """The terminal lines an SVG of ``rich``'s ``save_svg`` shows (its title left out): each piece of
    text at its column (the SVG leaves out the blanks between them)."""
    rows: dict[float, dict[int, str]] = {}
    for x, y, length, text in _TEXT.findall(path.read_text(encoding="utf-8")):
        text = html.unescape(text).replace("\xa0", " ")
        rows.setdefault(float(y), {})[round(float(x) / (float(length) / len(text)))] = text
    lines = []
    for _, pieces in sorted(rows.items()):
        line = ""
        for column, text in sorted(pieces.items()):
            line = line.ljust(column) + text
        lines.append(line)
    return lines


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("captures")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        word for name in ("sync-progress", "sync", "ask") for word in ("wrote", str(out / f"{name}.svg"))
    ]
    return out


def test_the_sync_picture_shows_the_command_its_bars_once_and_the_report(captures: Path) -> None:
    lines = svg_lines(captures / "sync.svg")
    assert lines[0] == "$ allm sync observatory --workspace observatory --types pdf,json,csv,md,txt"
    assert lines[1] == "listing observatory ..."
    assert lines[2] == "rejected star-chart.pdf: is really a PNG image, not a .pdf file"
    bars = [line for line in lines if re.match(r"(upload|embed) ", line)]
    assert len(bars) == 2, "the bars are redrawn in place: one line each on the final screen"
    assert " 5/5 " in bars[0]
    assert " 4/4 " in bars[1]
    assert "  uploaded       4  faq.md, observatory-handbook.pdf, telescopes.json, visitors.csv" in lines
    assert "      star-chart.pdf: is really a PNG image, not a .pdf file" in lines
    assert lines[-1] == "error: 1 file(s) rejected (star-chart.pdf); see the report for why"


def test_the_progress_picture_shows_the_bars_under_way(captures: Path) -> None:
    lines = svg_lines(captures / "sync-progress.svg")
    assert lines[0].startswith("$ allm sync observatory")
    upload = next(line for line in lines if line.startswith("upload "))
    done, total = map(int, re.search(r"(\d+)/(\d+)", upload).groups())  # type: ignore[union-attr]
    assert done < total
    assert any(line.startswith("embed ") for line in lines)
    assert not any("uploaded" in line for line in lines), "no report yet"


def test_the_ask_picture_shows_the_streamed_answer_and_its_sources(captures: Path) -> None:
    lines = svg_lines(captures / "ask.svg")
    assert lines[0].startswith("$ allm ask observatory 'How do I book a telescope tour")
    assert lines[1].startswith('STUB ANSWER to "How do I book a telescope tour')
    assert all(len(line) <= 100 for line in lines), "a long answer wraps at the terminal's width"
    sources = lines.index("sources:")
    assert lines[sources + 1].startswith("  [1] faq.md (score ")
