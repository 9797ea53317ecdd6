"""The base of every fault setting: a strict pydantic model whose errors read as one line.

A setting arrives either as Python keyword arguments or as the JSON body of a control endpoint; both
build the same model, so each value is checked once, in one place, and the same way. The models are
strict because a test that asks for ``status="500"`` or ``probability=True`` has a bug, and a
misspelt field is refused rather than ignored: a fault that silently does nothing makes a test that
proves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

__all__ = ["FaultSetting", "one_line"]

_SHOWN_INPUT = 60  # characters of a refused value quoted in the error


class FaultSetting(BaseModel):
    """A strict, frozen model that refuses unknown fields; bad input raises a one-line ``ValueError``
    naming each field that is wrong (pydantic's own error spans several lines)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    def __init__(self, /, **fields: Any) -> None:
        try:
            super().__init__(**fields)
        except ValidationError as exc:
            raise ValueError(one_line(exc, type(self).model_fields)) from None


def one_line(error: ValidationError, known: Iterable[str]) -> str:
    """``error`` as ``"<field>: <what is wrong>, got <value>; ..."`` (``known``: the model's fields)."""
    by_field: dict[str, list[ErrorDetails]] = {}
    for detail in error.errors(include_url=False):
        name = str(detail["loc"][0]) if detail["loc"] else ""
        by_field.setdefault(name, []).append(detail)
    return "; ".join(_describe(name, details, known) for name, details in by_field.items())


def _describe(name: str, details: list[ErrorDetails], known: Iterable[str]) -> str:
    first = details[0]
    if first["type"] == "extra_forbidden":
        return f"unknown field {name!r} (known: {', '.join(known)})"
    if first["type"] == "missing":
        return f"{name}: required"
    if first["type"] == "value_error":  # a rule of our own: its message says it all
        text = str(first.get("ctx", {}).get("error", first["msg"]))
        return f"{name}: {text}" if name else text
    # a union reports one error per member: "a valid string or a valid bytes or ..."
    wanted = " or ".join([first["msg"], *(d["msg"].removeprefix("Input should be ") for d in details[1:])])
    shown = repr(first["input"])
    if len(shown) > _SHOWN_INPUT:
        shown = shown[: _SHOWN_INPUT - 3] + "..."
    return f"{name}: {wanted}, got {shown}"
