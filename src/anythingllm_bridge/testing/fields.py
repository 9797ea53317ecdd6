"""The server's coercion of writable workspace fields (``Workspace.validations``), JavaScript semantics.

``parseFloat``/``parseInt`` read a number from the start of a string (``"0.5x"`` → 0.5, ``"hot"`` → NaN);
a value that is not usable falls back to the field's default. Unknown keys are dropped; ``slug`` is not
writable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

__all__ = ["WRITABLE", "coerce_fields", "js_parse_float", "js_parse_int"]

_FLOAT_PREFIX = re.compile(r"\s*([+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Infinity))")
_INT_PREFIX = re.compile(r"\s*([+-]?\d+)")


def js_parse_float(value: Any) -> float:
    """``parseFloat(value)`` (NaN when there is no number)."""
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, int | float):
        return float(value)
    match = _FLOAT_PREFIX.match(str(value))
    return float(match.group(1).replace("Infinity", "inf")) if match else math.nan


def js_parse_int(value: Any) -> float:
    """``parseInt(value)`` (NaN when there is no number; a float is truncated)."""
    if isinstance(value, float) and math.isfinite(value):
        return float(int(value))
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return math.nan
    if isinstance(value, int):
        return float(value)
    match = _INT_PREFIX.match(str(value))
    return float(int(match.group(1))) if match else math.nan


def _name(value: Any) -> str:
    return value[:255] if isinstance(value, str) and value else "My Workspace"


def _temp(value: Any) -> float | None:
    temp = js_parse_float(value)
    return None if math.isnan(temp) or temp < 0 else temp


def _history(value: Any) -> int:
    history = js_parse_int(value)
    return 20 if math.isnan(history) else max(0, int(history))


def _threshold(value: Any) -> float:
    threshold = js_parse_float(value)
    return 0.25 if math.isnan(threshold) else min(1.0, max(0.0, threshold))


def _top_n(value: Any) -> int:
    top_n = js_parse_int(value)
    return 4 if math.isnan(top_n) else max(1, int(top_n))


def _chat_mode(value: Any) -> str:
    return value if value in ("chat", "query", "automatic") else "automatic"


def _provider(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "none" else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _search_mode(value: Any) -> str:
    return value if value in ("default", "rerank") else "default"


def _router(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


_VALIDATIONS: dict[str, Callable[[Any], Any]] = {
    "name": _name,
    "openAiTemp": _temp,
    "openAiHistory": _history,
    "lastUpdatedAt": lambda v: v,
    "openAiPrompt": _text,
    "similarityThreshold": _threshold,
    "chatProvider": _provider,
    "chatModel": _text,
    "topN": _top_n,
    "chatMode": _chat_mode,
    "agentProvider": _provider,
    "agentModel": _text,
    "queryRefusalResponse": _text,
    "vectorSearchMode": _search_mode,
    "router_id": _router,
}
WRITABLE = frozenset(_VALIDATIONS)


def coerce_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The writable keys of ``data``, each coerced as the server does (``chatProvider: "default"`` also
    clears ``chatModel``)."""
    out = {key: _VALIDATIONS[key](value) for key, value in data.items() if key in WRITABLE}
    if data.get("chatProvider") == "default":
        out["chatProvider"] = None
        out["chatModel"] = None
    return out
