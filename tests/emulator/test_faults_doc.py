"""docs/faults.md shows each fault setting's fields as the model describes them: the tables are made from
the models' field descriptions, so the doc and the code cannot drift apart. When a field changes, paste
the table this test prints."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from anythingllm_bridge.testing.faults import EmbeddingLoss, Fault, Outage

DOC = Path(__file__).parents[2] / "docs" / "faults.md"


def field_table(model: type[BaseModel]) -> str:
    """The markdown table of ``model``'s fields: name, default, description."""
    rows = ["| field | default | meaning |", "|---|---|---|"]
    for name, info in model.model_fields.items():
        if info.default is PydanticUndefined:
            default = "required"
        else:
            shown = json.dumps(info.default) if isinstance(info.default, str) else repr(info.default)
            default = f"`{shown}`"
        rows.append(f"| `{name}` | {default} | {info.description} |")
    return "\n".join(rows)


def documented_table(model: type[BaseModel]) -> str:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(
        rf"<!-- fields of {model.__name__}: .*? -->\n(.*?)\n<!-- end of fields -->", text, flags=re.DOTALL
    )
    assert found, f"docs/faults.md has no field table for {model.__name__}"
    return found.group(1)


@pytest.mark.parametrize("model", [Fault, EmbeddingLoss, Outage])
def test_the_doc_shows_every_field_as_the_model_describes_it(model: type[BaseModel]) -> None:
    expected = field_table(model)
    assert documented_table(model) == expected, f"paste into docs/faults.md:\n{expected}"


@pytest.mark.parametrize("model", [Fault, EmbeddingLoss, Outage])
def test_every_field_is_described(model: type[BaseModel]) -> None:
    assert [name for name, info in model.model_fields.items() if not info.description] == []
