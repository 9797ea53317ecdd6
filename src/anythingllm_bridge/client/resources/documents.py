"""Documents: upload (file, raw text, link), list, get, remove, and folder operations."""

from __future__ import annotations

import json
import mimetypes
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import aiohttp

from anythingllm_bridge.client import _deprecated
from anythingllm_bridge.client._errors import Subject
from anythingllm_bridge.client.models import Document, EmbeddingCheck, FolderListing, UploadResult, Workspace
from anythingllm_bridge.client.resources._base import Resource, WorkspaceRef, folder_segment, parse, segment
from anythingllm_bridge.errors import (
    AnythingLLMNotFoundError,
    AnythingLLMProtocolError,
    AnythingLLMServerError,
    FileValidationError,
)

__all__ = ["DocumentsMixin", "check_upload_file"]


def check_upload_file(path: str | os.PathLike[str]) -> Path:
    """The file to upload, checked before any request is made.

    Raises ``FileValidationError`` (also a ``ValueError``) naming the path and the reason when
    the file does not exist, is a directory or not a regular file, or cannot be opened.
    """
    file_path = Path(path)

    def refusal(why: str, reason: str) -> FileValidationError:
        return FileValidationError(
            f"cannot upload {str(file_path)!r}: {why}", path=str(file_path), reason=reason
        )

    try:
        info = file_path.stat()
    except FileNotFoundError:
        raise refusal("the file does not exist", "missing") from None
    except OSError as exc:
        raise refusal(f"{exc.strerror or exc}", "unreadable") from exc
    if stat.S_ISDIR(info.st_mode):
        raise refusal("it is a directory, not a file", "directory")
    if not stat.S_ISREG(info.st_mode):
        raise refusal("not a regular file", "not a file")
    try:
        with open(file_path, "rb"):
            pass
    except OSError as exc:
        raise refusal(f"the file cannot be read ({exc.strerror or exc})", "unreadable") from exc
    return file_path


#: Files up to this size are read whole and sent as bytes; larger ones are streamed.
SMALL_FILE_BYTES = 1 << 20


def file_body(file_path: Path) -> bytes | BinaryIO:
    """The body of one upload attempt.

    A small file (up to ``SMALL_FILE_BYTES``) is read whole, here on the event loop: reading it from
    the page cache costs less than the two executor round trips (read, close) aiohttp makes for a
    file object, which dominate the client's own time for small uploads. A larger file is handed
    over open: aiohttp sends its Content-Length, reads it in 64 KiB chunks in an executor and closes
    it, so memory stays flat whatever the size.
    """
    handle = open(file_path, "rb")  # noqa: SIM115 - closed below, or by aiohttp once sent
    try:
        if os.fstat(handle.fileno()).st_size > SMALL_FILE_BYTES:
            return handle
        with handle:
            return handle.read()
    except BaseException:
        handle.close()
        raise


def metadata_field(metadata: Mapping[str, Any] | str | None) -> str | None:
    """Upload ``metadata`` travels as a JSON *string* form field."""
    if metadata is None:
        return None
    if isinstance(metadata, str):
        return metadata
    if not isinstance(metadata, Mapping):
        raise ValueError(f"metadata must be a mapping or a JSON string, got {type(metadata).__name__}")
    return json.dumps(dict(metadata), ensure_ascii=False)


class DocumentsMixin(Resource):
    """Documents in the server's storage: uploading files, text and links, listing, reading,
    moving and deleting them, and folders."""

    if TYPE_CHECKING:  # EmbeddingsMixin's, which builds on this one in AnythingLLMClient

        async def ensure_embedded(
            self, slug: WorkspaceRef, locations: Iterable[str], *, listing: Workspace | None = None
        ) -> EmbeddingCheck: ...

    async def upload_file(
        self,
        path: str | os.PathLike[str],
        *,
        workspaces: WorkspaceRef | Iterable[WorkspaceRef] | None = None,
        metadata: Mapping[str, Any] | str | None = None,
        folder: str | None = None,
        filename: str | None = None,
        verify: bool = True,
    ) -> UploadResult:
        """Upload one file; above 1 MiB streamed from disk (never read whole into memory).

        * ``workspaces``: workspace(s) (slug or id) to embed the document into; afterwards the
          client checks each really holds it, embeds it again where it does not
          (``ensure_embedded``), and lists those that still do not in ``result.missing_from``
          (``verify=False`` skips that check, for callers that check many uploads at once with
          ``ensure_embedded``).
        * ``metadata``: ``title``, ``docAuthor``, ``description``, ``docSource``, ``chunkSource``
          (the keys the server honours for files).
        * ``folder``: store the document in this folder instead of ``custom-documents``.
        * ``filename``: the name the server sees (default: the file's own name, sent as raw UTF-8;
          bytes of a name that are not UTF-8 are sent as U+FFFD).

        A missing, directory or unreadable path raises ``FileValidationError`` before any request.
        ``result.location`` is the handle for ``update_embeddings`` / ``remove_documents``.
        """
        file_path = check_upload_file(path)
        slugs = await self._slugs(workspaces)
        data = await self._send_file(file_path, slugs, metadata_field(metadata), folder, filename)
        return await self._upload_result(data, slugs if verify else None)

    async def _send_file(
        self, file_path: Path, slugs: str | None, meta: str | None, folder: str | None, filename: str | None
    ) -> dict[str, Any]:
        """POST one file as multipart; the answer's JSON object (no embedding check)."""
        route = "/v1/document/upload" if folder is None else f"/v1/document/upload/{folder_segment(folder)}"
        # a file name that is not UTF-8 (bytes Python holds as surrogate escapes) cannot be sent as
        # it is: its undecodable bytes become U+FFFD
        name = os.fsencode(filename or file_path.name).decode("utf-8", "replace")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"

        def build_form() -> aiohttp.FormData:
            # A fresh form (and file handle) per attempt; quote_fields=False keeps non-ASCII file
            # names intact (the server does not decode %XX).
            form = aiohttp.FormData(quote_fields=False)
            form.add_field("file", file_body(file_path), filename=name, content_type=content_type)
            if slugs:
                form.add_field("addToWorkspaces", slugs)
            if meta is not None:
                form.add_field("metadata", meta)
            return form

        data: dict[str, Any] = await self._object("POST", route, form=build_form)
        return data

    async def upload_text(
        self,
        title: str,
        text: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        workspaces: WorkspaceRef | Iterable[WorkspaceRef] | None = None,
    ) -> UploadResult:
        """Store raw text as a document. The server keeps only ``url``, ``title``,
        ``docAuthor``, ``description``, ``docSource``, ``chunkSource`` and ``published`` (epoch ms)
        from ``metadata`` and rewrites the title to ``<slug>.txt``."""
        slugs = await self._slugs(workspaces)
        data = await self._send_text(title, text, metadata, slugs)
        return await self._upload_result(data, slugs)

    async def _send_text(
        self, title: str, text: str, metadata: Mapping[str, Any] | None, slugs: str | None
    ) -> dict[str, Any]:
        meta: dict[str, Any] = dict(metadata or {})
        meta["title"] = title
        body: dict[str, Any] = {"textContent": text, "metadata": meta}
        if slugs:
            body["addToWorkspaces"] = slugs
        data: dict[str, Any] = await self._object("POST", "/v1/document/raw-text", json=body)
        return data

    async def upload_link(
        self,
        url: str,
        *,
        workspaces: WorkspaceRef | Iterable[WorkspaceRef] | None = None,
        metadata: Mapping[str, Any] | None = None,
        scraper_headers: Mapping[str, str] | None = None,
    ) -> UploadResult:
        """Have the server scrape a web page (or download a file) into a document."""
        if not isinstance(url, str) or not url.strip():
            raise ValueError(f"upload_link needs a URL, got {url!r}")
        body: dict[str, Any] = {"link": url.strip()}
        slugs = await self._slugs(workspaces)
        if slugs:
            body["addToWorkspaces"] = slugs
        if metadata:
            body["metadata"] = dict(metadata)
        if scraper_headers:
            body["scraperHeaders"] = dict(scraper_headers)
        data = await self._object("POST", "/v1/document/upload-link", json=body)
        return await self._upload_result(data, slugs)

    @_deprecated.keyword_only(1, "folder")
    async def list_documents(self, *, folder: str | None = None) -> list[Document]:
        """Every stored document (or those of one folder), each with its ``location``."""
        if folder is not None:
            return (await self.list_folder(folder)).documents
        tree = await self._object("GET", "/v1/documents", "localFiles")
        documents: list[Document] = []
        for folder_item in _tree_items(tree):
            folder_name = folder_item.get("name")
            for item in _tree_items(folder_item):
                if item.get("type", "file") == "file":
                    documents.append(_with_location(parse(Document, item), str(folder_name or "") or None))
        return documents

    async def list_folder(self, folder: str, *, offset: int = 0, limit: int | None = None) -> FolderListing:
        """One folder's documents, paged (``limit=None``: all of them)."""
        params: dict[str, str | int] = {"offset": int(offset)}
        params["limit"] = "all" if limit is None else int(limit)
        data = await self._object("GET", f"/v1/documents/folder/{folder_segment(folder)}", params=params)
        listing = parse(FolderListing, data)
        listing.documents = [_with_location(doc, listing.folder) for doc in listing.documents]
        return listing

    async def get_document(self, name: str) -> Document:
        """One stored document by its file name (``<file>.json``) or its ``location``."""
        folder, _, file_name = name.rpartition("/")
        path = f"/v1/document/{segment(file_name, 'document name')}"
        document = await self._object("GET", path, "document", subject=Subject(f"document {name!r}"))
        return _with_location(parse(Document, document), folder or None)

    async def delete_documents_from_server(self, locations: str | Iterable[str]) -> None:
        """Delete documents from the server for good: the files, their vector caches, and their
        embeddings in every workspace. (To take a document out of one workspace only, leaving
        it on the server: ``delete_document``.)"""
        names = [locations] if isinstance(locations, str) else list(locations)
        if not names:
            return
        await self._request("DELETE", "/v1/system/remove-documents", json={"names": names})

    async def remove_documents(self, locations: str | Iterable[str]) -> None:
        """Deprecated: ``delete_documents_from_server``."""
        _deprecated.warn("remove_documents(...)", "delete_documents_from_server(...)")
        await self.delete_documents_from_server(locations)

    async def create_folder(self, name: str, *, exist_ok: bool = True) -> bool:
        """Create a document folder; ``False`` if it already existed (and ``exist_ok``)."""
        folder_segment(name)
        try:
            await self._request("POST", "/v1/document/create-folder", json={"name": name})
        except AnythingLLMServerError as exc:
            if exist_ok and "already exists" in (exc.server_message or ""):
                return False
            raise
        return True

    async def remove_folder(self, name: str) -> None:
        """Remove a folder, its documents and their embeddings (``custom-documents`` is kept)."""
        folder_segment(name)
        await self._request("DELETE", "/v1/document/remove-folder", json={"name": name})

    async def move_files(self, moves: Mapping[str, str] | Iterable[tuple[str, str]]) -> str | None:
        """Move documents between folders (``{from_location: to_location}``). Documents that are
        embedded in a workspace are not moved; the server's message then says how many."""
        pairs = list(moves.items()) if isinstance(moves, Mapping) else list(moves)
        files = [{"from": source, "to": target} for source, target in pairs]
        data = await self._object("POST", "/v1/document/move-files", json={"files": files})
        message = data.get("message")
        return message if isinstance(message, str) else None

    async def accepted_file_types(self) -> dict[str, list[str]]:
        """MIME type -> extensions the server's collector advertises."""
        types = await self._object("GET", "/v1/document/accepted-file-types", "types")
        return dict(types)

    async def metadata_schema(self) -> dict[str, str]:
        """The metadata keys ``upload_text`` honours, with their types."""
        schema = await self._object("GET", "/v1/document/metadata-schema", "schema")
        return dict(schema)

    async def _upload_result(self, data: dict[str, Any], slugs: str | None) -> UploadResult:
        """The upload's answer; with ``slugs``, each of those workspaces checked (and repaired) with
        ``ensure_embedded``, and those that still lack the document in ``missing_from`` — a workspace
        that does not exist too: the server ignores unknown slugs in ``addToWorkspaces``."""
        result = parse(UploadResult, data)
        if slugs and result.documents and result.documents[0].location:
            location = result.documents[0].location
            for slug in slugs.split(","):
                try:
                    check = await self.ensure_embedded(slug, [location])
                except AnythingLLMNotFoundError:
                    result.missing_from.append(slug)
                    continue
                if check.missing:
                    result.missing_from.append(slug)
        return result


def _tree_items(node: Any) -> list[dict[str, Any]]:
    """The ``items`` of a folder node of ``GET /v1/documents`` (none when empty); a node of another
    shape is a protocol error."""
    items = node.get("items") if isinstance(node, dict) else node
    if not items:
        return []
    if not (isinstance(node, dict) and isinstance(items, list) and all(isinstance(i, dict) for i in items)):
        raise AnythingLLMProtocolError(f"the document list is not a tree of folders: {str(node)[:200]!r}")
    return items


def _with_location(document: Document, folder: str | None) -> Document:
    if folder and not document.folder:
        document.folder = folder
    if not document.location and document.folder and document.name:
        document.location = f"{document.folder}/{document.name}"
    return document
