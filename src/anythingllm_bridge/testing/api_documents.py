"""Document intake: ``upload`` (multipart), ``upload/:folderName``, ``raw-text`` and ``upload-link``.

Multipart is read like multer's ``single("file")``: the file must be in the field ``file`` (another file
field is "Unexpected field"), text fields repeated become lists (so ``addToWorkspaces`` sent twice is the
server's 422), and the file name is taken raw from ``Content-Disposition`` (busboy does not
percent-decode ``filename="..."``; ``filename*=`` is decoded, but its non-ASCII characters come out
as U+FFFD, as on the server). With ``addToWorkspaces`` the document is
embedded into each named workspace (unknown slugs ignored) unless the fault injector decides this upload
loses its embedding, in which case the answer is the same 200 and the document stays out.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from anythingllm_bridge.testing.collector import (
    CollectorError,
    lenient_json,
    process_file,
    process_link,
    process_raw_text,
)
from anythingllm_bridge.testing.express import FAULTS, LATENCY, STORE, express_route, req_body
from anythingllm_bridge.testing.extract import sanitize_filename
from anythingllm_bridge.testing.latency import RaceOutcome
from anythingllm_bridge.testing.state import DEFAULT_FOLDER, StoredDocument, bad_name
from anythingllm_bridge.testing.wire import json_answer, status_answer

__all__ = ["routes"]

_FILENAME_STAR = re.compile(r"""filename\*\s*=\s*([^']*)'[^']*'([^;\s]+)""", re.IGNORECASE)
_FILENAME = re.compile(r"""filename\s*=\s*(?:"((?:\\.|[^"\\])*)"|([^;\s]+))""", re.IGNORECASE)
_CHUNK = 1 << 16
_IN_THREAD = 1 << 20


@dataclass
class _Upload:
    filename: str | None = None
    data: bytes = b""
    fields: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


def _raw_filename(disposition: str) -> str | None:
    star = _FILENAME_STAR.search(disposition)
    if star:
        try:
            decoded = unquote(star.group(2), encoding=star.group(1) or "utf-8", errors="replace")
        except LookupError:  # a charset nobody knows: its bytes as they are
            decoded = unquote(star.group(2), encoding="latin-1")
        # The server re-reads every name as Latin-1 bytes of UTF-8 (which repairs a raw UTF-8
        # ``filename=``); a name busboy already decoded from ``filename*`` does not survive that:
        # each of its non-ASCII characters becomes U+FFFD ("café" -> "caf\ufffd").
        return bytes(ord(c) & 0xFF for c in decoded).decode("utf-8", "replace")
    plain = _FILENAME.search(disposition)
    if plain is None:
        return None
    quoted = plain.group(1)
    return re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else plain.group(2)


async def _read_upload(request: web.Request) -> _Upload:
    upload = _Upload()
    if not request.content_type.startswith("multipart/"):
        return upload
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            upload.error = upload.error or "Unexpected field"  # nested multipart
            continue
        disposition = part.headers.get("Content-Disposition", "")
        filename = _raw_filename(disposition)
        if filename is None:
            value = (await part.read()).decode("utf-8", "replace")
            upload.fields.setdefault(part.name or "", []).append(value)
            continue
        chunks = bytearray()
        while chunk := await part.read_chunk(_CHUNK):
            chunks += chunk
        if part.name != "file" or upload.filename is not None:
            upload.error = upload.error or "Unexpected field"
            continue
        upload.filename, upload.data = filename, bytes(chunks)
    return upload


async def _add_to_workspaces(
    request: web.Request, slugs_field: str, document: StoredDocument, *, in_thread: bool = False
) -> None:
    """``Document.api.uploadToWorkspace``: embed into the named workspaces (in database order)."""
    slugs = {s.strip().lower() for s in slugs_field.split(",") if s.strip()}
    if not slugs:
        return
    if request.app[FAULTS].embedding_loss.take():
        return  # the real server's silent failure: the answer is still 200
    store, latency = request.app[STORE], request.app[LATENCY]
    with store.locked():
        targets = [w for w in store.workspaces.values() if w.slug in slugs]
    for workspace in targets:
        vectors = store.namespace_count(workspace)
        outcome = await latency.embedding(workspace.id, vectors, document.page_content, in_upload=True)
        if outcome is RaceOutcome.LOST:
            return  # lost the race to create the workspace's vector table: the server stops here, 200
        if outcome is RaceOutcome.OVERWRITES:
            store.drop_vectors(workspace)
        if in_thread:  # a big document's chunks are embedded off the event loop
            await asyncio.to_thread(store.embed, workspace, document.location)
        else:
            store.embed(workspace, document.location)


def _type_error(value: Any) -> web.Response:
    kind = "object" if isinstance(value, list | dict) or value is None else type(value).__name__
    return json_answer(
        {
            "success": False,
            "error": f"addToWorkspaces must be a string of comma-separated workspace slugs. Got {kind}",
        },
        422,
    )


async def _upload(request: web.Request, folder: str | None) -> web.StreamResponse:
    upload = await _read_upload(request)
    if upload.error is not None:
        return json_answer({"success": False, "error": f"Invalid file upload. {upload.error}"}, 500)
    if upload.filename is None:
        return status_answer(500)  # `request.file.originalname` of undefined
    add = upload.fields.get("addToWorkspaces", [""])
    if len(add) > 1:
        return _type_error(add)
    metadata = lenient_json(upload.fields["metadata"][0]) if "metadata" in upload.fields else {}
    store = request.app[STORE]
    await request.app[LATENCY].upload(len(upload.data))
    big = len(upload.data) > _IN_THREAD  # parse and embed big files off the event loop
    try:
        name = sanitize_filename(upload.filename)
        if big:
            document = await asyncio.to_thread(process_file, store, name, upload.data, metadata)
        else:
            document = process_file(store, name, upload.data, metadata)
    except CollectorError as exc:
        return json_answer({"success": False, "error": str(exc), "documents": []}, 500)
    view = document.upload_view()
    if folder is not None and folder != DEFAULT_FOLDER:
        if bad_name(folder):
            return status_answer(500)  # the move throws after parsing; the document stays put
        store.move_document(document, folder)
        view |= {"location": document.location, "name": document.filename}
    await _add_to_workspaces(request, add[0], document, in_thread=big)
    return json_answer({"success": True, "error": None, "documents": [view]})


@express_route()
async def upload(request: web.Request) -> web.StreamResponse:
    return await _upload(request, None)


@express_route()
async def upload_to_folder(request: web.Request) -> web.StreamResponse:
    return await _upload(request, request.match_info["folder"])


@express_route()
async def raw_text(request: web.Request) -> web.StreamResponse:
    body = req_body(request)
    metadata = lenient_json(body.get("metadata", {}))
    text, add = body.get("textContent"), body.get("addToWorkspaces", "")
    if not metadata.get("title"):
        return json_answer(
            {
                "success": False,
                "error": "You are missing required metadata key:value pairs in your request. "
                "Required metadata key:values are 'title'",
            },
            422,
        )
    if not text:
        return json_answer(
            {"success": False, "error": "The 'textContent' key cannot have an empty value."}, 422
        )
    if not isinstance(add, str):
        return _type_error(add)
    if not isinstance(text, str):
        return status_answer(500)
    document = process_raw_text(request.app[STORE], text, metadata)
    await _add_to_workspaces(request, add, document)
    return json_answer({"success": True, "error": None, "documents": [document.upload_view()]})


@express_route()
async def upload_link(request: web.Request) -> web.StreamResponse:
    body = req_body(request)
    add = body.get("addToWorkspaces", "")
    if not isinstance(add, str):
        return _type_error(add)
    metadata = lenient_json(body.get("metadata", {}))
    headers = body.get("scraperHeaders") or {}
    try:
        document = await process_link(request.app[STORE], body.get("link"), headers, metadata)
    except CollectorError as exc:
        refusal: dict[str, Any] = {"success": False, "error": str(exc)}
        if exc.with_documents:
            refusal["documents"] = []
        return json_answer(refusal, 500)
    await _add_to_workspaces(request, add, document)
    return json_answer({"success": True, "error": None, "documents": [document.upload_view()]})


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/document/upload", upload),
        web.post("/api/v1/document/upload-link", upload_link),
        web.post("/api/v1/document/raw-text", raw_text),
        web.post("/api/v1/document/upload/{folder}", upload_to_folder),
    ]
