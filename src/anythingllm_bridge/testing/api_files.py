"""Stored documents and folders: list, list a folder (paginated), get by name, create / remove folders,
move files, and the two fixed answers (accepted file types, metadata schema)."""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from anythingllm_bridge.testing.express import LATENCY, STORE, express_route, req_body
from anythingllm_bridge.testing.fields import js_parse_int
from anythingllm_bridge.testing.state import DEFAULT_FOLDER, Store, StoredDocument, bad_name
from anythingllm_bridge.testing.wire import json_answer, status_answer

__all__ = ["ACCEPTED_FILE_TYPES", "METADATA_SCHEMA", "routes"]

ACCEPTED_FILE_TYPES: dict[str, list[str]] = {
    "text/plain": [".txt", ".md", ".org", ".adoc", ".rst"],
    "text/html": [".html"],
    "text/csv": [".csv"],
    "application/json": [".json"],
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": [".docx"],
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": [".pptx"],
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": [".xlsx"],
    "application/vnd.oasis.opendocument.text": [".odt"],
    "application/vnd.oasis.opendocument.presentation": [".odp"],
    "application/pdf": [".pdf"],
    "application/mbox": [".mbox"],
    "audio/wav": [".wav"],
    "audio/mpeg": [".mp3"],
    "audio/ogg": [".ogg", ".oga"],
    "audio/opus": [".opus"],
    "audio/mp4": [".m4a"],
    "audio/x-m4a": [".m4a"],
    "audio/webm": [".webm"],
    "video/mp4": [".mp4"],
    "video/mpeg": [".mpeg"],
    "application/epub+zip": [".epub"],
    "image/png": [".png"],
    "image/jpeg": [".jpg"],
    "image/jpg": [".jpg"],
    "image/webp": [".webp"],
}
METADATA_SCHEMA = {
    "url": "string | nullable",
    "title": "string",
    "docAuthor": "string | nullable",
    "description": "string | nullable",
    "docSource": "string | nullable",
    "chunkSource": "string | nullable",
    "published": "epoch timestamp in ms | nullable",
}
_WATCHABLE = ("link://", "youtube://", "confluence://", "github://", "gitlab://", "drupalwiki://")


def _entry(store: Store, document: StoredDocument) -> dict[str, Any]:
    return {
        "name": document.filename,
        "type": "file",
        **document.metadata(),
        "cached": document.location in store.vector_cache,
        "canWatch": str(document.meta.get("chunkSource", "")).startswith(_WATCHABLE),
        "pinnedWorkspaces": store.pinned_workspace_ids(document.location),
        "watched": False,
    }


def _folder_page(
    request: web.Request, name: str, *, default_limit: int | None, with_code: bool
) -> web.Response:
    def reply(status: int, error: str | None, documents: list[Any], total: int, more: bool) -> web.Response:
        answer = {"folder": name, "documents": documents, "totalCount": total, "hasMore": more}
        return json_answer({**answer, **({"code": status} if with_code else {}), "error": error}, status)

    store = request.app[STORE]
    if bad_name(name):
        return reply(400, "Invalid folder name.", [], 0, False)
    with store.locked():
        if name not in store.folders:
            return reply(404, f'Folder "{name}" does not exist.', [], 0, False)
        documents = [_entry(store, d) for d in store.documents_in(name)]
    offset = js_parse_int(request.query.get("offset", "0"))
    start = 0 if math.isnan(offset) else max(0, int(offset))
    raw_limit = request.query.get("limit")
    limit: int | None = default_limit
    if raw_limit == "all":
        limit = None
    elif raw_limit is not None:
        parsed = js_parse_int(raw_limit)
        limit = default_limit if math.isnan(parsed) or parsed < 1 else min(int(parsed), 1000)
    page = documents[start:] if limit is None else documents[start : start + limit]
    return reply(200, None, page, len(documents), start + len(page) < len(documents))


@express_route()
async def list_documents(request: web.Request) -> web.StreamResponse:
    if "folder" in request.query:
        return _folder_page(request, request.query["folder"], default_limit=100, with_code=True)
    store = request.app[STORE]
    with store.locked():
        folders = [
            {"name": name, "type": "folder", "items": [_entry(store, d) for d in store.documents_in(name)]}
            for name in store.folder_names()
        ]
    await request.app[LATENCY].listing(sum(len(f["items"]) for f in folders), workspace=False)
    return json_answer({"localFiles": {"name": "documents", "type": "folder", "items": folders}})


@express_route()
async def list_folder(request: web.Request) -> web.StreamResponse:
    return _folder_page(request, request.match_info["folder"], default_limit=None, with_code=False)


@express_route()
async def get_document(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    with store.locked():
        document = store.document_named(request.match_info["name"])
        if document is None:
            return status_answer(404)
        found = {
            "name": document.filename,
            "type": "file",
            **document.metadata(),
            "cached": document.location in store.vector_cache,
        }
    return json_answer({"document": found})


@express_route()
async def accepted_file_types(request: web.Request) -> web.StreamResponse:
    return json_answer({"types": ACCEPTED_FILE_TYPES})


@express_route()
async def metadata_schema(request: web.Request) -> web.StreamResponse:
    return json_answer({"schema": METADATA_SCHEMA})


@express_route()
async def generated_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if bad_name(name):
        return json_answer({"error": "Invalid filename format"}, 400)
    return json_answer({"error": "File not found"}, 404)


@express_route(
    on_error=lambda request, exc: json_answer(
        {"success": False, "message": f"Failed to create folder: {exc}"}, 500
    )
)
async def create_folder(request: web.Request) -> web.StreamResponse:
    name = req_body(request).get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("Invalid path.")
    if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
        raise ValueError("Invalid path name")
    store = request.app[STORE]
    with store.locked():
        if name in store.folders:
            return json_answer({"success": False, "message": "Folder by that name already exists"}, 500)
        if "/" not in name and "\\" not in name:  # nested folders exist on disk but are never listed
            store.folders[name] = {}
    return json_answer({"success": True, "message": None})


@express_route(
    on_error=lambda request, exc: json_answer({"success": False, "message": "Failed to move files."}, 500)
)
async def move_files(request: web.Request) -> web.StreamResponse:
    """Embedded files are skipped (reported); a missing source or destination folder fails the call."""
    files = req_body(request)["files"]
    moves = [(str(f["from"]), str(f["to"])) for f in files]
    store = request.app[STORE]
    failed = False
    with store.locked():
        movable = [(src, dst) for src, dst in moves if not store.is_embedded_anywhere(src)]
        for src, dst in movable:
            document = store.document_at(src)
            folder, _, filename = dst.partition("/")
            if document is None or folder not in store.folders or bad_name(filename):
                failed = True
                continue
            store.move_document(document, folder)
            if filename != document.filename:
                store.folders[folder].pop(document.filename)
                document.filename = filename
                store.folders[folder][filename] = document
    if failed:
        return json_answer({"success": False, "message": "Failed to move some files."}, 500)
    skipped = len(moves) - len(movable)
    message = (
        f"{skipped}/{len(moves)} files not moved. Unembed them from all workspaces." if skipped else None
    )
    return json_answer({"success": True, "message": message})


@express_route(
    on_error=lambda request, exc: json_answer(
        {"success": False, "message": f"Failed to remove folder: {exc}"}, 500
    )
)
async def remove_folder(request: web.Request) -> web.StreamResponse:
    """Unembed and delete every document of the folder, then the folder (``custom-documents`` stays)."""
    name = req_body(request).get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("Invalid folder name.")
    store = request.app[STORE]
    with store.locked():
        if name != DEFAULT_FOLDER and name in store.folders:
            for document in store.documents_in(name):
                store.purge_document(document.location)
            del store.folders[name]
    return json_answer({"success": True, "message": "Folder removed successfully"})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/documents", list_documents),
        web.get("/api/v1/documents/folder/{folder}", list_folder),
        web.get("/api/v1/document/accepted-file-types", accepted_file_types),
        web.get("/api/v1/document/metadata-schema", metadata_schema),
        web.get("/api/v1/document/generated-files/{name}", generated_file),
        web.get("/api/v1/document/{name}", get_document),
        web.post("/api/v1/document/create-folder", create_folder),
        web.post("/api/v1/document/move-files", move_files),
        web.delete("/api/v1/document/remove-folder", remove_folder),
    ]
