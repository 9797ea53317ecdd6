"""Running the specifications' usage examples as written.

An example is kept in the tests as the seed's own text. The one change made before running it is
the one a user makes: its imports from the seed application's modules (``app.integrations...``,
``core.config.models``, ``models.schemas``, ``clients.anythingllm``) import from
``anythingllm_bridge`` instead. The code then runs inside a coroutine (the examples ``await`` at
top level), with the names the example takes from its surroundings (``Path``, ``settings``,
``file_list``, ...) given by the test, and its variables are returned for the test to check.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import shared_path

ROOT = Path(__file__).parents[2]
#: Where the specifications are: the shared folder beside the repository.
SEED_FOLDER = shared_path("seeds")

_SEED_IMPORT = re.compile(r"^(\s*)from (?:app|core|models|clients)(?:\.\w+)+ import ", re.MULTILINE)


@dataclass(frozen=True)
class Example:
    """One usage example: the seed file it comes from, its section, and its code as written."""

    seed: str
    section: str
    code: str


def translate(code: str) -> str:
    """``code`` with the seed application's imports pointed at ``anythingllm_bridge``."""
    return _SEED_IMPORT.sub(r"\1from anythingllm_bridge import ", code)


async def run_example(example: Example, **surroundings: Any) -> dict[str, Any]:
    """Run ``example`` with ``surroundings`` as its global names; its local variables after it ran."""
    body = textwrap.indent(translate(example.code), "    ")
    source = f"async def __example__():\n{body}\n    return locals()\n"
    namespace: dict[str, Any] = dict(surroundings)
    exec(compile(source, f"<{example.seed}: {example.section}>", "exec"), namespace)
    variables: dict[str, Any] = await namespace["__example__"]()
    return variables


def seed_text(seed: str) -> str | None:
    """The specification ``seed`` (a file name prefix, e.g. ``000``), if it is on this machine."""
    for path in sorted(SEED_FOLDER.glob(f"{seed}_*.txt")):
        return path.read_text(encoding="utf-8")
    return None


def without_trailing_spaces(text: str) -> str:
    """``text`` with each line's trailing whitespace removed (invisible, and not kept in our sources)."""
    return "\n".join(line.rstrip() for line in text.splitlines())
