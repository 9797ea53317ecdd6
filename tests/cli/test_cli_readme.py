"""The README's CLI reference names every command and option ``allm`` has, and none it does not: a
renamed or added option fails here instead of leaving the README behind."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from anythingllm_bridge.cli.app import app

README = Path(__file__).parents[2] / "README.md"
ROOT = get_command(app)
#: said once for all in the section's first paragraph (every command that prints data takes it)
EVERYWHERE = {"--help", "--json"}


def cli_section() -> str:
    return README.read_text(encoding="utf-8").split("## CLI reference", 1)[1].split("\n## ", 1)[0]


def leaf_commands(group: Any = ROOT, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """``("workspaces create", command)`` for every command that runs something."""
    for name, command in sorted(getattr(group, "commands", {}).items()):
        if getattr(command, "commands", None):
            yield from leaf_commands(command, (*path, name))
        else:
            yield " ".join((*path, name)), command


def long_options(command: Any) -> set[str]:
    return {
        name
        for param in command.params
        for name in (*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ()))
        if name.startswith("--")
    }


def row_of(command_path: str) -> str:
    """The table row whose first cell starts with ``allm COMMAND``."""
    rows = [line for line in cli_section().splitlines() if line.startswith(f"| `allm {command_path} ")]
    rows += [line for line in cli_section().splitlines() if line.startswith(f"| `allm {command_path}`")]
    assert len(rows) == 1, f"the README's CLI table has {len(rows)} rows for allm {command_path}"
    return rows[0].split("` |", 1)[0]


COMMANDS = dict(leaf_commands())


@pytest.mark.parametrize("path", COMMANDS)
def test_each_command_has_a_row_naming_exactly_its_options(path: str) -> None:
    named = set(re.findall(r"--[a-z][a-z-]*", row_of(path))) - EVERYWHERE
    options = long_options(COMMANDS[path]) - EVERYWHERE
    assert not options - named, f"allm {path} has options the README does not name"
    assert not named - options, f"the README names options allm {path} does not have"


def test_the_options_of_allm_itself_are_described() -> None:
    section = cli_section()
    for option in long_options(ROOT) - {"--help"}:
        assert f"`{option}" in section, option


def test_every_short_form_is_listed() -> None:
    shorts = {
        (name, next(long for long in param.opts if long.startswith("--")))
        for command in [ROOT, *COMMANDS.values()]
        for param in command.params
        for name in getattr(param, "opts", ())
        if re.fullmatch(r"-[a-z]", name)
    }
    section = cli_section()
    for short, long in shorts:
        assert f"`{short}`" in section, f"{short} ({long})"
