"""Replay every request recorded from a real AnythingLLM 1.16.0 against one fresh emulator and compare.

The requests go over real HTTP on 127.0.0.1, in file order, exactly as recorded (raw bodies, malformed
JSON and a missing content type included; multipart uploads built from ``testdata/``). What is compared,
and which values are exempt and why, is in ``transcript_replay``'s docstring. One request the recorded
server received is not in the recordings: ``blob.xyz`` was uploaded (it appears in
``29-documents-list``, ``66-remove-documents`` and ``testdata/``) but its exchange was not kept, so it is
replayed, unchecked, right before the first listing that shows it.
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any

import aiohttp
from transcript_replay import (
    COMPARED_HEADERS,
    IdMap,
    align_ranked,
    compare,
    compare_stream,
    parse_events,
)

from anythingllm_bridge.testing import Emulator, run_emulator
from support import TRANSCRIPTS, needs_transcripts, shared_path

TESTDATA = shared_path("anythingllm", "testdata")
UNRECORDED_BEFORE = {"29-documents-list.txt": [{"name": "file", "file": "blob.xyz"}]}


def _api_key(transcripts: list[dict[str, Any]]) -> str:
    for item in transcripts:
        if item["response"]["status"] == 200 and item["request"]["path"] == "/api/v1/auth":
            return str(item["request"]["headers"]["Authorization"].split(" ")[1])
    raise AssertionError("no successful /api/v1/auth request in the transcripts")


def _form(parts: list[dict[str, str]]) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)
    for part in parts:
        if "file" in part:
            name, *params = part["file"].split(";")
            options = dict(p.split("=", 1) for p in params)
            content_type = options.get("type") or mimetypes.guess_type(name)[0] or "application/octet-stream"
            data = (TESTDATA / name).read_bytes()
            form.add_field(part["name"], data, filename=name, content_type=content_type)
        else:
            form.add_field(part["name"], part["value"])
    return form


async def _send(
    session: aiohttp.ClientSession, base: str, request: dict[str, Any], ids: IdMap
) -> tuple[aiohttp.ClientResponse, bytes]:
    headers = dict(request["headers"])
    kwargs: dict[str, Any] = {"headers": headers}
    if request["multipart"] is not None:
        kwargs["data"] = _form(request["multipart"])
    elif request["body"] is not None:
        kwargs["data"] = ids.apply_text(request["body"]).encode()
        if "Content-Type" not in headers:
            kwargs["skip_auto_headers"] = ("Content-Type",)
    async with session.request(request["method"], base + ids.apply_text(request["path"]), **kwargs) as resp:
        return resp, await resp.read()


def _check(item: dict[str, Any], resp: aiohttp.ClientResponse, raw: bytes, ids: IdMap) -> list[str]:
    recorded = item["response"]
    problems: list[str] = []
    if resp.status != recorded["status"]:
        problems.append(f"status {resp.status} (recorded {recorded['status']})")
    recorded_type = recorded["headers"].get("Content-Type")
    if resp.headers.get("Content-Type") != recorded_type:
        problems.append(f"content type {resp.headers.get('Content-Type')!r} (recorded {recorded_type!r})")
    for name in COMPARED_HEADERS:
        if name in recorded["headers"] and resp.headers.get(name) != recorded["headers"][name]:
            problems.append(
                f"header {name}: {resp.headers.get(name)!r} (recorded {recorded['headers'][name]!r})"
            )
    body = raw.decode("utf-8")
    if recorded_type == "text/event-stream":
        return problems + compare_stream(parse_events(recorded["body"]), parse_events(body), ids)
    if recorded_type and recorded_type.startswith("application/json"):
        expected, actual = json.loads(recorded["body"]), json.loads(body)
        actual = align_ranked(expected, actual)
        ids.learn(expected, actual)
        return problems + compare(ids.apply(expected), actual)
    # text and HTML: the recording lost a trailing newline, so check the byte count separately
    if body.rstrip("\n") != recorded["body"].rstrip("\n"):
        problems.append(f"body {body[:80]!r} (recorded {recorded['body'][:80]!r})")
    length = recorded["headers"].get("Content-Length")
    if length is not None and int(length) != len(raw):
        problems.append(f"{len(raw)} bytes (recorded Content-Length {length})")
    return problems


@needs_transcripts
async def test_every_recorded_exchange_is_reproduced() -> None:
    transcripts: list[dict[str, Any]] = json.loads(TRANSCRIPTS.read_text())
    key = _api_key(transcripts)
    ids = IdMap()
    failures: dict[str, list[str]] = {}
    async with run_emulator(emulator=Emulator(key)) as running, aiohttp.ClientSession() as session:
        for item in transcripts:
            for parts in (
                [UNRECORDED_BEFORE.get(item["file"], [])] if item["file"] in UNRECORDED_BEFORE else []
            ):
                unrecorded = {"method": "POST", "path": "/api/v1/document/upload", "body": None}
                unrecorded |= {"headers": {"Authorization": f"Bearer {key}"}, "multipart": parts}
                resp, _ = await _send(session, running.url, unrecorded, ids)
                assert resp.status == 200, "the unrecorded blob.xyz upload failed"
            resp, raw = await _send(session, running.url, item["request"], ids)
            problems = _check(item, resp, raw, ids)
            if problems:
                failures[item["file"]] = problems
    if ids.conflicts:
        failures["(identifier mapping)"] = ids.conflicts
    report = "\n".join(f"{name}:\n  " + "\n  ".join(found) for name, found in failures.items())
    assert not failures, f"{len(failures)} of {len(transcripts)} transcripts not reproduced:\n{report}"
    assert len(transcripts) == 76
