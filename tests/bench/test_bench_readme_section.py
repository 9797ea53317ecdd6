"""bench/README.md is shared: each benchmark rewrites its own section and must leave the others alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import load_script

BENCH = Path(__file__).resolve().parents[2] / "bench"

readme_section = load_script("readme_section", BENCH / "readme_section.py")
replace_section = readme_section.replace_section

DOC = """# Benchmarks

Intro.

## Upload memory

Their table.

## Mine (`x`)

Old numbers.

## Validation speed

Theirs too.
"""


def test_replaces_only_its_own_section() -> None:
    updated = replace_section(DOC, "## Mine (`x`)", "## Mine (`x`)\n\nNew numbers.\n")
    assert updated == DOC.replace("Old numbers.", "New numbers.")


def test_the_last_section_is_replaced_to_the_end() -> None:
    updated = replace_section(DOC, "## Validation speed", "## Validation speed\n\nFaster.")
    assert updated == DOC.replace("Theirs too.", "Faster.")


def test_a_missing_section_is_appended() -> None:
    updated = replace_section(DOC, "## Startup", "## Startup\n\nFast.\n")
    assert updated == DOC + "\n## Startup\n\nFast.\n"
    again = replace_section(updated, "## Startup", "## Startup\n\nFaster.\n")
    assert again == DOC + "\n## Startup\n\nFaster.\n"


def test_the_heading_must_be_a_whole_line() -> None:
    """A heading quoted in another section's text, or a longer heading, is not ours."""
    doc = "# B\n\n## Other\n\nSee `## Mine` below.\n\n## Mine and more\n\nX.\n"
    updated = replace_section(doc, "## Mine", "## Mine\n\nY.\n")
    assert updated == doc + "\n## Mine\n\nY.\n"


def test_a_section_must_start_with_its_heading() -> None:
    with pytest.raises(ValueError, match="must start with its heading"):
        replace_section(DOC, "## Mine (`x`)", "New numbers.")
