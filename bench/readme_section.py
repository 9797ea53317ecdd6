"""Replace one benchmark's section of ``bench/README.md`` and leave every other section as it was.

A section runs from its ``## `` heading to the next ``## `` heading (or the end of the file). A
section that is not there yet is appended.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["replace_section", "write_section"]


def replace_section(document: str, heading: str, section: str) -> str:
    """``document`` with the section under ``heading`` replaced by ``section`` (which starts with
    ``heading``), or with ``section`` appended when ``heading`` is not in it."""
    if not section.startswith(heading):
        raise ValueError(f"the section must start with its heading {heading!r}")
    body = section.rstrip("\n") + "\n"
    start = _find_heading(document, heading)
    if start < 0:
        return document.rstrip("\n") + "\n\n" + body
    end = document.find("\n## ", start + len(heading))
    if end < 0:
        return document[:start] + body
    return document[:start] + body + "\n" + document[end + 1 :]


def _find_heading(document: str, heading: str) -> int:
    """Where ``heading`` starts a line, or -1."""
    position = 0
    while (found := document.find(heading, position)) >= 0:
        line_end = document.find("\n", found)
        line = document[found : line_end if line_end >= 0 else len(document)]
        if (found == 0 or document[found - 1] == "\n") and line.rstrip() == heading:
            return found
        position = found + 1
    return -1


def write_section(readme: Path, heading: str, section: str) -> None:
    current = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n"
    readme.write_text(replace_section(current, heading, section), encoding="utf-8")
