"""Documents: file / text uploads (names, metadata, folders), listing, lookup, removal, folders."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from anythingllm_bridge.client import AnythingLLMClient, Workspace
from anythingllm_bridge.errors import (
    AnythingLLMNotFoundError,
    AnythingLLMServerError,
    AnythingLLMValidationError,
    FileValidationError,
)
from support import Server, python_where_file_modes_apply

NOTES = (
    "The Zorblax protocol was invented in 1987 by Dr. Quentin Marsh at the Lunar Institute.\n"
    "It uses three handshake phases called ping, pong and plonk.\n"
)


def write(folder: Path, name: str, text: str = NOTES) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_upload_file_returns_the_document_and_its_location(
    client: AnythingLLMClient, server: Server, tmp_path: Path
) -> None:
    result = await client.upload_file(write(tmp_path, "notes.txt"))
    server.created_documents.append(result.location)
    assert result.success is True
    assert result.location.startswith("custom-documents/notes.txt-")
    assert result.location.endswith(".json")
    assert result.document.title == "notes.txt"
    assert "Zorblax" in (result.document.page_content or "")
    assert result.missing_from == []


async def test_non_ascii_file_name_arrives_intact(
    client: AnythingLLMClient, server: Server, tmp_path: Path
) -> None:
    name = "résumé 2024 — Über naïve 研究.txt"
    result = await client.upload_file(write(tmp_path, name))
    server.created_documents.append(result.location)
    assert result.document.title == name
    assert "%C3" not in result.location
    assert "percent" not in result.location


async def test_upload_sends_metadata(client: AnythingLLMClient, server: Server, tmp_path: Path) -> None:
    result = await client.upload_file(
        write(tmp_path, "product.json", '{"product": "Widget 3000", "color": "teal"}'),
        metadata={"title": "Custom Product Title", "docAuthor": "Json Author", "description": "A widget"},
    )
    server.created_documents.append(result.location)
    assert result.document.title == "Custom Product Title"
    assert result.document.doc_author == "Json Author"
    assert result.document.description == "A widget"


async def test_upload_into_a_folder(client: AnythingLLMClient, server: Server, tmp_path: Path) -> None:
    folder = server.name("folder")
    server.created_folders.append(folder)
    result = await client.upload_file(write(tmp_path, "in-folder.txt"), folder=folder)
    server.created_documents.append(result.location)
    assert result.location.startswith(f"{folder}/in-folder.txt-")
    listed = await client.list_documents(folder=folder)
    assert [doc.location for doc in listed] == [result.location]
    assert listed[0].folder == folder


async def test_upload_and_embed_into_workspaces(
    client: AnythingLLMClient, server: Server, workspace: Workspace, tmp_path: Path
) -> None:
    other = (await client.create_workspace(server.name("other"))).workspace
    server.created_workspaces.append(other.slug)
    result = await client.upload_file(write(tmp_path, "both.txt"), workspaces=[workspace.slug, other.slug])
    server.created_documents.append(result.location)
    assert result.embedded is True
    for slug in (workspace.slug, other.slug):
        assert result.location in (await client.get_workspace(slug)).docpaths


async def test_upload_to_an_unknown_workspace_reports_it_missing(
    client: AnythingLLMClient, server: Server, tmp_path: Path
) -> None:
    # the server silently ignores unknown slugs in addToWorkspaces; the client notices
    result = await client.upload_file(write(tmp_path, "lost.txt"), workspaces="no-such-workspace-xyz")
    server.created_documents.append(result.location)
    assert result.missing_from == ["no-such-workspace-xyz"]
    assert result.embedded is False


@pytest.mark.parametrize("case", ["missing", "directory", "fifo"])
async def test_bad_paths_are_refused_before_any_request(
    emu_client: AnythingLLMClient, emulator: Any, tmp_path: Path, case: str
) -> None:
    if case == "missing":
        path = tmp_path / "nope.txt"
    elif case == "directory":
        path = tmp_path / "a-folder"
        path.mkdir()
    else:
        path = tmp_path / "pipe.txt"
        os.mkfifo(path)
    before = len(emulator.emulator.faults.requests)
    with pytest.raises(FileValidationError) as caught:
        await emu_client.upload_file(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert len(emulator.emulator.faults.requests) == before
    expected = {"missing": "does not exist", "directory": "directory", "fifo": "not a regular file"}[case]
    assert expected in str(caught.value)


async def test_unreadable_file_is_refused_before_any_request(emulator: Any, tmp_path: Path) -> None:
    path = write(tmp_path, "secret.txt")
    path.chmod(0)
    before = len(emulator.emulator.faults.requests)
    uploaded = await asyncio.to_thread(
        functools.partial(python_where_file_modes_apply, env={"TEST_KEY": emulator.api_key}),
        "import asyncio, os, sys\n"  # in a child process, so that it means the same run as root
        "from anythingllm_bridge.client import AnythingLLMClient\n"
        "from anythingllm_bridge.errors import FileValidationError\n"
        "async def upload():\n"
        "    async with AnythingLLMClient(sys.argv[1], os.environ['TEST_KEY']) as client:\n"
        "        try:\n"
        "            await client.upload_file(sys.argv[2])\n"
        "        except FileValidationError as exc:\n"
        "            print(exc)\n"
        "asyncio.run(upload())\n",
        emulator.url,
        str(path),
    )
    assert uploaded.returncode == 0, uploaded.stderr
    assert "cannot be read" in uploaded.stdout
    assert len(emulator.emulator.faults.requests) == before


async def test_unsupported_extension_is_a_server_error_with_its_reason(
    client: AnythingLLMClient, tmp_path: Path
) -> None:
    path = tmp_path / "random.bin"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(AnythingLLMServerError) as caught:
        await client.upload_file(path)
    assert caught.value.status == 500
    assert "not supported" in (caught.value.server_message or "")


async def test_upload_text_and_its_metadata(
    client: AnythingLLMClient, server: Server, workspace: Workspace
) -> None:
    result = await client.upload_text(
        "Flibbertigibbet River Facts",
        "The Flibbertigibbet river flows north. Its water is purple.",
        metadata={"docAuthor": "Test Author", "description": "facts about a river", "docSource": "unit test"},
        workspaces=workspace.slug,
    )
    server.created_documents.append(result.location)
    assert result.location.startswith("custom-documents/raw-flibbertigibbet-river-facts-")
    assert result.document.title == "flibbertigibbet-river-facts.txt"  # the server rewrites it
    assert result.document.doc_author == "Test Author"
    assert result.document.doc_source == "unit test"
    assert result.embedded
    embedded = await client.list_workspace_documents(workspace.slug)
    assert [doc.docpath for doc in embedded] == [result.location]
    assert embedded[0].metadata["docAuthor"] == "Test Author"  # parsed from the server's JSON string


async def test_upload_text_refusals_are_validation_errors(client: AnythingLLMClient) -> None:
    with pytest.raises(AnythingLLMValidationError) as caught:
        await client.upload_text("A title", "")  # 422 "textContent cannot have an empty value"
    assert caught.value.status == 422
    assert "textContent" in (caught.value.server_message or "")
    with pytest.raises(AnythingLLMValidationError) as caught:
        await client.upload_text("", "some text")  # 422 missing title
    assert "title" in (caught.value.server_message or "")


async def test_list_get_and_remove_documents(
    client: AnythingLLMClient, server: Server, tmp_path: Path
) -> None:
    result = await client.upload_file(write(tmp_path, "listed.txt"))
    server.created_documents.append(result.location)
    listed = {doc.location: doc for doc in await client.list_documents()}
    assert result.location in listed
    assert listed[result.location].folder == "custom-documents"
    assert listed[result.location].title == "listed.txt"

    name = result.location.split("/", 1)[1]
    by_name = await client.get_document(name)
    by_location = await client.get_document(result.location)
    assert by_name.title == by_location.title == "listed.txt"
    assert by_location.location == result.location

    await client.delete_documents_from_server([result.location])
    assert result.location not in {doc.location for doc in await client.list_documents()}
    with pytest.raises(AnythingLLMNotFoundError):  # 404 "Not Found" (text)
        await client.get_document(name)
    await client.delete_documents_from_server([result.location])  # again: the server does not mind
    await client.delete_documents_from_server([])  # nothing to do, no request


async def test_folders_create_list_move_remove(
    client: AnythingLLMClient, server: Server, tmp_path: Path
) -> None:
    folder = server.name("fold")
    server.created_folders.append(folder)
    assert await client.create_folder(folder) is True
    assert await client.create_folder(folder) is False  # 500 "already exists" → False
    with pytest.raises(AnythingLLMServerError):
        await client.create_folder(folder, exist_ok=False)
    assert (await client.list_folder(folder)).documents == []

    result = await client.upload_file(write(tmp_path, "mover.txt"))
    target = f"{folder}/{result.location.split('/', 1)[1]}"
    server.created_documents += [result.location, target]
    await client.move_files({result.location: target})
    listing = await client.list_folder(folder)
    assert [doc.location for doc in listing.documents] == [target]
    assert listing.total_count == 1

    await client.remove_folder(folder)
    with pytest.raises(AnythingLLMNotFoundError):
        await client.list_folder(folder)


async def test_an_embedded_document_is_not_moved(
    client: AnythingLLMClient, server: Server, workspace: Workspace, tmp_path: Path
) -> None:
    folder = server.name("keep")
    server.created_folders.append(folder)
    await client.create_folder(folder)
    result = await client.upload_file(write(tmp_path, "embedded.txt"), workspaces=workspace.slug)
    server.created_documents.append(result.location)
    target = f"{folder}/{result.location.split('/', 1)[1]}"
    message = await client.move_files({result.location: target})
    assert message == "1/1 files not moved. Unembed them from all workspaces."
    assert (await client.list_folder(folder)).documents == []
    assert [d.docpath for d in (await client.get_workspace(workspace.slug)).documents] == [result.location]


async def test_removing_a_folder_takes_its_documents_out_of_workspaces(
    client: AnythingLLMClient, server: Server, workspace: Workspace, tmp_path: Path
) -> None:
    folder = server.name("gone")
    server.created_folders.append(folder)
    result = await client.upload_file(write(tmp_path, "inside.txt"), workspaces=workspace.slug, folder=folder)
    server.created_documents.append(result.location)
    assert result.location.startswith(f"{folder}/")
    assert [d.docpath for d in (await client.get_workspace(workspace.slug)).documents] == [result.location]
    await client.remove_folder(folder)
    assert (await client.get_workspace(workspace.slug)).documents == []
    assert result.location not in {d.location for d in await client.list_documents()}


async def test_folder_names_are_checked(client: AnythingLLMClient, tmp_path: Path) -> None:
    for bad in ("a/b", "..", "", "x\\y"):
        with pytest.raises(ValueError, match="folder"):
            await client.upload_file(write(tmp_path, "f.txt"), folder=bad)


async def test_unknown_folder_is_not_found(client: AnythingLLMClient) -> None:
    with pytest.raises(AnythingLLMNotFoundError):
        await client.list_folder("no-such-folder-xyz")


async def test_accepted_file_types_and_metadata_schema(client: AnythingLLMClient) -> None:
    types = await client.accepted_file_types()
    assert ".pdf" in types["application/pdf"]
    schema = await client.metadata_schema()
    assert "title" in schema
    assert "docAuthor" in schema


@pytest.fixture
async def web_page() -> AsyncIterator[str]:
    """A page on 127.0.0.1 for the emulator's collector to scrape (it only fetches loopback)."""

    async def page(request: web.Request) -> web.Response:
        token = request.headers.get("X-Token", "none")
        html = f"<html><body><h1>Moon base</h1><p>The moon base has {token} airlocks.</p></body></html>"
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/moon/base", page)
    async with TestServer(app, host="127.0.0.1") as served:
        yield str(served.make_url("/moon/base"))


async def test_upload_link_scrapes_with_headers_and_metadata(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, web_page: str
) -> None:
    result = await emu_client.upload_link(
        web_page,
        workspaces=emu_workspace.slug,
        metadata={"title": "Moon Base Page", "docAuthor": "Luna"},
        scraper_headers={"X-Token": "seven"},
    )
    assert result.embedded
    assert result.document.title == "Moon Base Page"
    assert result.document.doc_author == "Luna"
    assert "seven airlocks" in (result.document.page_content or "")
    assert result.document.chunk_source == f"link://{web_page}"


async def test_upload_link_refusals_are_server_errors(emu_client: AnythingLLMClient) -> None:
    with pytest.raises(AnythingLLMServerError, match=r"Not a valid URL"):
        await emu_client.upload_link("ftp://example.invalid/file")
    with pytest.raises(AnythingLLMServerError, match="No URL content found"):
        await emu_client.upload_link("http://127.0.0.1:9/nothing-here")
    with pytest.raises(ValueError, match="URL"):
        await emu_client.upload_link(" ")
