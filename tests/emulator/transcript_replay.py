"""Comparing the emulator's answers with the ones recorded from a real AnythingLLM 1.16.0.

Compared exactly: status, content type, the recorded Express/CORS/SSE/keep-alive headers, text and HTML bodies
(byte length included), and for JSON: the key set *and order* of every object, list lengths, value types
(JavaScript's: int and float are both "number"), and values — except the exempt ones below, each for a
reason:

* **Generated identifiers** (UUIDs anywhere in a string; workspace slugs with the random 8-digit
  collision suffix): not compared; instead each recorded identifier is *mapped* to the one the emulator
  generated at the same place, consistently (the same recorded id must always map to the same emulator
  id), and the mapping is applied to later requests (paths, bodies) and to later expected answers.
* **Timestamps** (keys ``createdAt``, ``lastUpdatedAt``, ``timestamp``, ``sentAt``, ``published``,
  ``created``; and the ``published:`` date inside chunk texts): wall clock; the type and the format
  (ISO with milliseconds and ``Z``; ``M/D/YYYY, h:mm:ss AM``) must match.
* **Similarity numbers** (``_distance``, ``distance``, ``score``): they come from the embedder, and the
  recorded server used a different one (the stub's signed hashed bag of words); type only. For the same
  reason lists of search hits (``sources``, ``results``) are matched by document title, not by position
  (their order is the ranking).
* **Token counts** (``token_count_estimate``, ``tokenCount``): tiktoken ``cl100k_base`` counts; its BPE
  tables are not available offline, so the emulator estimates; type only.
* **Metrics** (values under ``metrics`` other than ``model`` and ``provider``): timings and token
  counts of the generation; keys and types only.
* **Generated answers** (strings starting ``STUB ANSWER to``): the question, the number of context
  chunks and the number of history messages must match exactly; the quoted start of the first chunk
  depends on the ranking and is only required to be there (and to be absent with 0 chunks, where the
  stub model leaves out the whole ``; first says: "..."`` part).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SUFFIXED_SLUG = re.compile(r"^(?P<stem>[a-z0-9-]+)-(?P<suffix>\d{8})$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LOCALE = re.compile(r"\d{1,2}/\d{1,2}/\d{4}, \d{1,2}:\d\d:\d\d [AP]M")
STUB = re.compile(  # without context the stub says no "first says" part
    r'^STUB ANSWER to "(?P<q>.*)" \| (?P<n>\d+) context chunk\(s\)(?:; first says: "(?P<first>.*)")? '
    r"\| history messages: (?P<k>\d+)$",
    re.DOTALL,
)
TIMESTAMP_KEYS = frozenset({"createdAt", "lastUpdatedAt", "timestamp", "sentAt", "published", "created"})
SCORE_KEYS = frozenset({"_distance", "distance", "score"})
TOKEN_KEYS = frozenset({"token_count_estimate", "tokenCount"})
RANKED_LISTS = frozenset({"sources", "results"})
COMPARED_HEADERS = (
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "Cache-Control",
    "Access-Control-Allow-Origin",
    "X-Powered-By",
    "Connection",
    "Keep-Alive",
)


def js_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass
class IdMap:
    """Recorded identifier -> emulator identifier, learned in order, never contradicted."""

    known: dict[str, str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)

    def _bind(self, recorded: str, actual: str, where: str) -> None:
        previous = self.known.get(recorded)
        if previous is None:
            self.known[recorded] = actual
        elif previous != actual:
            self.conflicts.append(f"{where}: {recorded} was {previous}, now {actual}")

    def learn(self, recorded: Any, actual: Any, where: str = "$") -> None:
        if isinstance(recorded, dict) and isinstance(actual, dict):
            for key in recorded.keys() & actual.keys():
                self.learn(recorded[key], actual[key], f"{where}.{key}")
        elif isinstance(recorded, list) and isinstance(actual, list):
            for n, (r, a) in enumerate(zip(recorded, actual, strict=False)):
                self.learn(r, a, f"{where}[{n}]")
        elif isinstance(recorded, str) and isinstance(actual, str):
            r_ids, a_ids = UUID.findall(recorded), UUID.findall(actual)
            if r_ids and len(r_ids) == len(a_ids):
                for r, a in zip(r_ids, a_ids, strict=True):
                    self._bind(r, a, where)
            r_slug, a_slug = SUFFIXED_SLUG.match(recorded), SUFFIXED_SLUG.match(actual)
            if r_slug and a_slug and r_slug["stem"] == a_slug["stem"] and not r_ids:
                self._bind(recorded, actual, where)

    def apply(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.apply(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.apply(v) for v in value]
        if isinstance(value, str):
            if value in self.known and not UUID.search(value):
                return self.known[value]
            return UUID.sub(lambda m: self.known.get(m.group(0), m.group(0)), value)
        return value

    def apply_text(self, text: str) -> str:
        text = UUID.sub(lambda m: self.known.get(m.group(0), m.group(0)), text)
        for recorded, actual in self.known.items():
            if not UUID.fullmatch(recorded):
                text = text.replace(recorded, actual)
        return text


def _title(item: Any) -> str:
    if isinstance(item, dict):
        meta = item.get("metadata")
        return str(item.get("title") or (meta.get("title") if isinstance(meta, dict) else ""))
    return ""


def align_ranked(recorded: Any, actual: Any) -> Any:
    """``actual`` with every ranked list reordered to follow the recorded list's titles (when the titles
    are the same multiset; otherwise left alone and the comparison reports it)."""
    if isinstance(recorded, dict) and isinstance(actual, dict):
        out = {}
        for key, value in actual.items():
            if key in recorded and key in RANKED_LISTS and isinstance(value, list):
                value = _reorder(recorded[key], value)
            out[key] = align_ranked(recorded.get(key), value)
        return out
    if isinstance(recorded, list) and isinstance(actual, list):
        return [align_ranked(r, a) for r, a in zip(recorded, actual, strict=False)] + actual[len(recorded) :]
    return actual


def _reorder(recorded: Any, actual: list[Any]) -> list[Any]:
    if not isinstance(recorded, list) or sorted(map(_title, recorded)) != sorted(map(_title, actual)):
        return actual
    pool = list(actual)
    ordered = []
    for item in recorded:
        match = next(a for a in pool if _title(a) == _title(item))
        pool.remove(match)
        ordered.append(match)
    return ordered


def _mask_dates(text: str) -> str:
    return LOCALE.sub("<date>", text)


def compare(expected: Any, actual: Any, path: str = "$", key: str = "") -> list[str]:
    """Differences between an expected (recorded, ids mapped) and an actual JSON value."""
    problems: list[str] = []
    if js_type(expected) != js_type(actual):
        return [f"{path}: type {js_type(actual)} (recorded {js_type(expected)}: {expected!r:.60})"]
    if key in TIMESTAMP_KEYS:
        if isinstance(expected, str):
            for pattern in (ISO, LOCALE):
                if pattern.fullmatch(expected) and not pattern.fullmatch(actual):
                    problems.append(f"{path}: {actual!r} is not formatted like {expected!r}")
        return problems
    if key in SCORE_KEYS or key in TOKEN_KEYS:
        return problems
    if key == "metrics" and isinstance(expected, dict):
        if list(expected) != list(actual):
            problems.append(f"{path}: metric keys {list(actual)} (recorded {list(expected)})")
        for name in ("model", "provider"):
            if expected.get(name) != actual.get(name):
                problems.append(f"{path}.{name}: {actual.get(name)!r} (recorded {expected.get(name)!r})")
        return problems
    if key == "metadata" and isinstance(expected, str) and expected.startswith("{"):
        return compare(json.loads(expected), json.loads(actual), f"{path}<json>")
    if isinstance(expected, dict):
        if list(expected) != list(actual):
            problems.append(f"{path}: keys {list(actual)} (recorded {list(expected)})")
        for name in expected.keys() & actual.keys():
            problems += compare(expected[name], actual[name], f"{path}.{name}", name)
        return problems
    if isinstance(expected, list):
        if len(expected) != len(actual):
            problems.append(f"{path}: {len(actual)} items (recorded {len(expected)})")
        for n, (e, a) in enumerate(zip(expected, actual, strict=False)):
            problems += compare(e, a, f"{path}[{n}]", key)
        return problems
    if isinstance(expected, str) and STUB.match(expected):
        return compare_answer(expected, actual, path)
    if isinstance(expected, str):
        if _mask_dates(expected) != _mask_dates(actual):
            problems.append(f"{path}: {actual!r:.120} (recorded {expected!r:.120})")
        return problems
    if expected != actual:
        problems.append(f"{path}: {actual!r} (recorded {expected!r})")
    return problems


def compare_answer(expected: str, actual: str, path: str) -> list[str]:
    recorded, got = STUB.match(expected), STUB.match(actual)
    if recorded is None:
        return [f"{path}: not a recorded answer {expected!r:.60}"]
    if got is None:
        return [f"{path}: answer not shaped like the recorded one: {actual!r:.120}"]
    problems = [
        f"{path}: {part} {got[part]!r} (recorded {recorded[part]!r})"
        for part in ("q", "n", "k")
        if got[part] != recorded[part]
    ]
    if int(got["n"]) and not got["first"]:
        problems.append(f"{path}: the answer does not quote its first context chunk")
    if not int(got["n"]) and got["first"] is not None:
        problems.append(f"{path}: the answer quotes a first chunk of no context")
    return problems


def parse_events(body: str) -> list[dict[str, Any]]:
    """``data: <json>`` events separated by blank lines (the server's SSE framing)."""
    events = []
    for block in body.split("\n\n"):
        block = block.strip("\n")
        if not block:
            continue
        if not block.startswith("data: ") or "\n" in block:
            raise ValueError(f"not one data line: {block[:80]!r}")
        events.append(json.loads(block[len("data: ") :]))
    return events


def compare_stream(recorded: list[dict[str, Any]], actual: list[dict[str, Any]], ids: IdMap) -> list[str]:
    """A token stream: same event shape and sequence, the same text (as an answer), the same final event."""
    if len(recorded) <= 2 or recorded[-1].get("type") != "finalizeResponseStream":
        if len(recorded) != len(actual):
            return [f"events: {len(actual)} (recorded {len(recorded)})"]
        problems = []
        for n, (r, a) in enumerate(zip(recorded, actual, strict=True)):
            ids.learn(r, a)
            problems += compare(ids.apply(r), a, f"event[{n}]")
        return problems
    problems = []
    if len(actual) < 3 or actual[-1].get("type") != "finalizeResponseStream":
        return [f"stream does not end with finalizeResponseStream: {[e.get('type') for e in actual]}"]
    tokens, closing, final = actual[:-2], actual[-2], actual[-1]
    ids.learn(recorded[0], tokens[0])
    for n, event in enumerate(tokens):
        problems += compare(
            ids.apply({**recorded[0], "textResponse": ""}), {**event, "textResponse": ""}, f"event[{n}]"
        )
    problems += compare(ids.apply(recorded[-2]), closing, "closing event")
    final = align_ranked(recorded[-1], final)
    ids.learn(recorded[-1], final)
    problems += compare(ids.apply(recorded[-1]), final, "finalizeResponseStream")
    text = "".join(e["textResponse"] for e in tokens)
    recorded_text = "".join(e["textResponse"] for e in recorded[:-2])
    problems += compare_answer(recorded_text, text, "streamed text")
    if len({e.get("uuid") for e in actual}) != 1:
        problems.append("the events of one stream do not share one uuid")
    return problems
