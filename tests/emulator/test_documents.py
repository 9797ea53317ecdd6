"""Document intake and storage: uploads (formats, fields, names), raw text, links, listings, folders."""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from emulator_api import TESTDATA_FILES, Api

LOCALE = re.compile(r"\d{1,2}/\d{1,2}/\d{4}, \d{1,2}:\d\d:\d\d [AP]M")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _pdf(*lines: str) -> bytes:
    ops = " ".join(f"0 -14 Td ({line}) Tj" for line in lines)
    content = zlib.compress(f"BT /F1 12 Tf 50 750 Td {ops} ET".encode())
    return (
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n4 0 obj\n<< /Length "
        + str(len(content)).encode()
        + b" /Filter /FlateDecode >>\nstream\n"
        + content
        + b"\nendstream\nendobj\n5 0 obj\n<< /Creator (Report Writer) /Title (Quarterly) >>\nendobj\n%%EOF\n"
    )


def _docx(*paragraphs: str) -> bytes:
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", f'<w:document xmlns:w="x"><w:body>{body}</w:body></w:document>')
    return buffer.getvalue()


async def test_a_text_upload_answers_like_the_server(api: Api) -> None:
    reply = await api.upload("notes.txt", TESTDATA_FILES["notes.txt"])
    assert (reply.status, reply.content_type) == (200, "application/json; charset=utf-8")
    body = reply.json
    assert (body["success"], body["error"]) == (True, None)
    [document] = body["documents"]
    assert list(document) == [
        "id", "url", "title", "docAuthor", "description", "docSource", "chunkSource", "published",
        "wordCount", "pageContent", "token_count_estimate", "location", "isDirectUpload",
    ]  # fmt: skip
    assert document["location"] == f"custom-documents/notes.txt-{document['id']}.json"
    assert re.fullmatch(UUID, document["id"])
    assert LOCALE.fullmatch(document["published"])
    assert (document["wordCount"], document["isDirectUpload"]) == (34, False)
    assert document["pageContent"] == TESTDATA_FILES["notes.txt"].decode()
    assert (document["docAuthor"], document["docSource"]) == ("Unknown", "a text file uploaded by the user.")


async def test_pdf_text_comes_from_its_content_streams(api: Api) -> None:
    reply = await api.upload(
        "report.pdf", _pdf("Revenue grew by nine percent.", "Costs fell \\(slightly\\).")
    )
    [document] = reply.json["documents"]
    assert document["pageContent"] == "Revenue grew by nine percent.\nCosts fell (slightly)."
    assert (document["docAuthor"], document["description"]) == ("Report Writer", "Quarterly")
    assert document["docSource"] == "pdf file uploaded by the user."


async def test_docx_text_and_metadata_overrides(api: Api) -> None:
    metadata = '{"title": "Handbook", "docAuthor": "HR", "description": "d", "published": 1, "other": 2}'
    reply = await api.upload(
        "handbook.docx", _docx("Welcome aboard.", "Lunch is at noon."), metadata=metadata
    )
    [document] = reply.json["documents"]
    assert document["pageContent"] == "Welcome aboard.\nLunch is at noon."
    assert (document["title"], document["docAuthor"], document["description"]) == ("Handbook", "HR", "d")
    assert "other" not in document
    assert LOCALE.fullmatch(document["published"])
    broken = await api.upload("x.txt", b"text", metadata="not json at all")
    assert broken.json["documents"][0]["title"] == "x.txt"


@pytest.mark.parametrize(
    ("name", "data", "accepted"),
    [
        ("random.bin", bytes(range(256)) * 4, False),
        ("blob.xyz", b"\x00\x01\x02binary", True),  # .xyz has a MIME type that is not binary
        ("script.unknownext", b"plain words only", True),
        ("noise.unknownext", bytes(range(32)) * 10, False),
        ("song.flac", b"fLaC....", False),
        ("code.py", b"print('hi')\n", True),
    ],
)
async def test_other_extensions_are_text_only_when_the_collector_would_read_them(
    api: Api, name: str, data: bytes, accepted: bool
) -> None:
    reply = await api.upload(name, data)
    if accepted:
        assert reply.status == 200
    else:
        ext = name[name.rfind(".") :]
        assert (reply.status, reply.json) == (
            500,
            {
                "success": False,
                "error": f"File extension {ext} not supported for parsing and cannot be assumed as text file "
                "type.",
                "documents": [],
            },
        )


async def test_empty_and_unreadable_files(api: Api) -> None:
    empty = await api.upload("empty.txt", b"")
    assert (empty.status, empty.json["error"]) == (500, "No text content found in empty.txt.")
    image = await api.upload("photo.png", b"\x89PNG....")
    assert image.json["error"] == "No text content found in photo.png."


async def test_multipart_field_rules(api: Api) -> None:
    form = aiohttp.FormData()
    form.add_field("document", b"x", filename="a.txt")
    wrong = await api.post("/v1/document/upload", data=form)
    assert (wrong.status, wrong.json) == (
        500,
        {"success": False, "error": "Invalid file upload. Unexpected field"},
    )
    form = aiohttp.FormData()
    form.add_field("foo", "bar")
    none = await api.post("/v1/document/upload", data=form)
    assert (none.status, none.text) == (500, "Internal Server Error")
    form = aiohttp.FormData()
    form.add_field("file", b"x", filename="a.txt")
    form.add_field("addToWorkspaces", "a")
    form.add_field("addToWorkspaces", "b")
    twice = await api.post("/v1/document/upload", data=form)
    assert (twice.status, twice.json) == (
        422,
        {
            "success": False,
            "error": "addToWorkspaces must be a string of comma-separated workspace slugs. Got object",
        },
    )


async def test_file_names_arrive_raw(api: Api) -> None:
    raw = await api.upload("résumé 2024.txt", b"cv")
    assert raw.json["documents"][0]["title"] == "résumé 2024.txt"
    assert raw.json["documents"][0]["location"].startswith("custom-documents/resume-2024.txt-")
    form = aiohttp.FormData()  # aiohttp's default percent-encodes the name, and it is kept as sent
    form.add_field("file", b"cv", filename="résumé.txt")
    quoted = await api.post("/v1/document/upload", data=form)
    assert quoted.json["documents"][0]["title"] == "r%C3%A9sum%C3%A9.txt"
    unsafe = await api.upload('we<ird>:"name?.txt', b"x")
    assert unsafe.json["documents"][0]["title"] == "weirdname.txt"


@pytest.mark.parametrize(
    ("disposition", "title"),
    [
        ("form-data; name=\"file\"; filename*=UTF-8''caf%C3%A9%20cv.txt", "caf\ufffd cv.txt"),
        (
            'form-data; name="file"; filename="ignored.txt"; filename*=UTF-8\'\'caf%C3%A9%20cv.txt',
            "caf\ufffd cv.txt",
        ),
        ("form-data; name=\"file\"; filename*=UTF-8''plain%20cv.txt", "plain cv.txt"),
    ],
)
async def test_a_file_name_in_filename_star_loses_its_non_ascii_characters_as_on_the_server(
    api: Api, disposition: str, title: str
) -> None:
    # measured on AnythingLLM 1.16.0: filename*=UTF-8''caf%C3%A9%20cv.txt is titled "caf\ufffd cv.txt"
    writer = aiohttp.MultipartWriter("form-data")
    part = writer.append(b"cv", {"Content-Type": "text/plain"})
    part.headers["Content-Disposition"] = disposition
    reply = await api.post("/v1/document/upload", data=writer)
    document = reply.json["documents"][0]
    assert document["title"] == title
    if "caf" in title:
        assert document["location"][:28] == "custom-documents/caf-cv.txt-"


async def test_add_to_workspaces_embeds_into_each_named_workspace(api: Api) -> None:
    first, second = await api.workspace("First"), await api.workspace("Second")
    reply = await api.upload("notes.txt", TESTDATA_FILES["notes.txt"], add_to=" FIRST , second,unknown")
    location = reply.json["documents"][0]["location"]
    for slug in (first["slug"], second["slug"]):
        rows = (await api.get(f"/v1/workspace/{slug}")).json["workspace"][0]["documents"]
        assert [r["docpath"] for r in rows] == [location]
        assert rows[0]["metadata"].startswith('{"id":')


async def test_raw_text_naming_defaults_and_validation(api: Api) -> None:
    document = await api.raw_text("Hello World.txt", "Some words here", published=1700000000000)
    assert document["title"] == "hello-world.txt"
    assert document["url"] == "file://hello-world.txt"
    assert re.fullmatch(rf"custom-documents/raw-hello-world-{UUID}\.json", document["location"])
    assert (document["docAuthor"], document["description"], document["docSource"]) == (
        "no author specified",
        "no description found",
        "no source set",
    )
    assert document["chunkSource"] == "hello-world.txt"
    assert document["published"] == "11/14/2023, 10:13:20 PM"
    web_doc = await api.raw_text("Page", "x", url="https://Example.com/A")
    assert web_doc["url"] == "web://https://example.com/a.website"
    as_string = await api.post(
        "/v1/document/raw-text", json={"textContent": "t", "metadata": '{"title": "From String"}'}
    )
    assert as_string.json["documents"][0]["title"] == "from-string.txt"
    missing = await api.post("/v1/document/raw-text", json={"textContent": "t", "metadata": {}})
    assert missing.status == 422
    assert missing.json["error"].endswith("Required metadata key:values are 'title'")
    empty = await api.post("/v1/document/raw-text", json={"textContent": "", "metadata": {"title": "x"}})
    assert (empty.status, empty.json["error"]) == (422, "The 'textContent' key cannot have an empty value.")


async def test_listing_get_by_name_and_the_fixed_answers(api: Api) -> None:
    uploaded = (await api.upload("notes.txt", TESTDATA_FILES["notes.txt"])).json["documents"][0]
    name = uploaded["location"].split("/")[1]
    tree = (await api.get("/v1/documents")).json["localFiles"]
    assert (tree["name"], tree["type"]) == ("documents", "folder")
    [folder] = tree["items"]
    [entry] = folder["items"]
    assert (folder["name"], entry["name"], entry["type"]) == ("custom-documents", name, "file")
    assert "pageContent" not in entry
    assert (entry["cached"], entry["canWatch"], entry["pinnedWorkspaces"], entry["watched"]) == (
        False,
        False,
        [],
        False,
    )
    got = await api.get(f"/v1/document/{name}")
    assert got.json["document"] == {
        k: v for k, v in entry.items() if k not in ("canWatch", "pinnedWorkspaces", "watched")
    }
    missing = await api.get("/v1/document/nope.json")
    assert (missing.status, missing.content_type, missing.text) == (
        404,
        "text/plain; charset=utf-8",
        "Not Found",
    )
    types = (await api.get("/v1/document/accepted-file-types")).json["types"]
    assert types["application/pdf"] == [".pdf"]
    schema = (await api.get("/v1/document/metadata-schema")).json["schema"]
    assert schema["published"] == "epoch timestamp in ms | nullable"


async def test_folders_create_upload_list_move_and_remove(api: Api) -> None:
    created = await api.post("/v1/document/create-folder", json={"name": "reports"})
    assert created.json == {"success": True, "message": None}
    again = await api.post("/v1/document/create-folder", json={"name": "reports"})
    assert (again.status, again.json) == (
        500,
        {"success": False, "message": "Folder by that name already exists"},
    )
    invalid = await api.post("/v1/document/create-folder", json={})
    assert invalid.json == {"success": False, "message": "Failed to create folder: Invalid path."}

    uploaded = (await api.upload("a.txt", b"alpha", folder="reports")).json["documents"][0]
    name = uploaded["location"].split("/")[1]
    assert uploaded["location"] == f"reports/{name}"
    assert uploaded["name"] == name
    for n in range(3):
        await api.upload(f"b{n}.txt", b"beta", folder="reports")
    page = await api.get("/v1/documents/folder/reports?offset=1&limit=2")
    assert (page.json["folder"], page.json["totalCount"], page.json["hasMore"], page.json["error"]) == (
        "reports",
        4,
        True,
        None,
    )
    assert len(page.json["documents"]) == 2
    everything = (await api.get("/v1/documents/folder/reports")).json
    assert (len(everything["documents"]), everything["hasMore"]) == (4, False)
    by_query = (await api.get("/v1/documents?folder=reports&limit=3")).json
    assert (len(by_query["documents"]), by_query["hasMore"]) == (3, True)
    missing = await api.get("/v1/documents/folder/nope")
    assert (missing.status, missing.json["error"]) == (404, 'Folder "nope" does not exist.')
    for bad_folder in ("a%2Fb", "a%5Cb"):
        nested = await api.upload("c.txt", b"gamma", folder=bad_folder)
        assert (nested.status, nested.text) == (500, "Internal Server Error")

    workspace = await api.workspace("Holder")
    await api.post(f"/v1/workspace/{workspace['slug']}/update-embeddings", json={"adds": [f"reports/{name}"]})
    other = everything["documents"][1]["name"]
    moved = await api.post(
        "/v1/document/move-files",
        json={
            "files": [
                {"from": f"reports/{name}", "to": f"custom-documents/{name}"},
                {"from": f"reports/{other}", "to": f"custom-documents/{other}"},
            ]
        },
    )
    assert moved.json == {
        "success": True,
        "message": "1/2 files not moved. Unembed them from all workspaces.",
    }
    assert (await api.get(f"/v1/document/{other}")).status == 200
    failed = await api.post(
        "/v1/document/move-files", json={"files": [{"from": "x/y.json", "to": "z/y.json"}]}
    )
    assert (failed.status, failed.json) == (500, {"success": False, "message": "Failed to move some files."})
    bad = await api.post("/v1/document/move-files", json={})
    assert (bad.status, bad.json) == (500, {"success": False, "message": "Failed to move files."})

    removed = await api.delete("/v1/document/remove-folder", json={"name": "reports"})
    assert removed.json == {"success": True, "message": "Folder removed successfully"}
    assert (await api.get(f"/v1/workspace/{workspace['slug']}")).json["workspace"][0]["documents"] == []
    assert [f["name"] for f in (await api.get("/v1/documents")).json["localFiles"]["items"]] == [
        "custom-documents"
    ]
    protected = await api.delete("/v1/document/remove-folder", json={"name": "custom-documents"})
    assert protected.json["success"] is True
    assert (await api.get(f"/v1/document/{other}")).status == 200


async def test_remove_documents_erases_everywhere(api: Api) -> None:
    workspace = await api.workspace("W")
    location = (await api.upload("n.txt", b"words", add_to=workspace["slug"])).json["documents"][0][
        "location"
    ]
    assert (await api.get("/v1/system/vector-count")).json == {"vectorCount": 1}
    removed = await api.delete(
        "/v1/system/remove-documents", json={"names": [location, "custom-documents/x.json"]}
    )
    assert removed.json == {"success": True, "message": "Documents removed successfully"}
    assert (await api.get("/v1/system/vector-count")).json == {"vectorCount": 0}
    assert (await api.get("/v1/documents")).json["localFiles"]["items"][0]["items"] == []
    no_names = await api.delete("/v1/system/remove-documents", json={})
    assert (no_names.status, no_names.text) == (500, "Internal Server Error")


async def test_update_embeddings_deletes_then_adds_and_duplicates_like_the_server(api: Api) -> None:
    workspace = await api.workspace("Dup")
    location = (await api.upload("n.txt", b"words")).json["documents"][0]["location"]
    path = f"/v1/workspace/{workspace['slug']}/update-embeddings"
    once = await api.post(path, json={"adds": [location, location.replace(".json", "")]})
    assert [d["docpath"] for d in once.json["workspace"]["documents"]] == [location]
    twice = await api.post(path, json={"adds": [location]})
    assert [d["docpath"] for d in twice.json["workspace"]["documents"]] == [location, location]
    listing = (await api.get("/v1/documents")).json["localFiles"]["items"][0]["items"]
    assert listing[0]["cached"] is True
    gone = await api.post(path, json={"deletes": [location]})
    assert gone.json["workspace"]["documents"] == []


@pytest.fixture
async def page_server() -> AsyncIterator[str]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(
            text="<html><head><style>x{}</style></head>"
            "<body><h1>Moon Base</h1><p>Oxygen lasts 9 days.</p></body></html>",
            content_type="text/html",
        )

    app = web.Application()
    app.router.add_get("/docs/moon", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_links_are_scraped_from_loopback_servers_only(api: Api, page_server: str) -> None:
    workspace = await api.workspace("Links")
    reply = await api.post(
        "/v1/document/upload-link",
        json={"link": f"{page_server}/docs/moon/", "addToWorkspaces": workspace["slug"]},
    )
    [document] = reply.json["documents"]
    assert document["pageContent"] == "Moon Base\nOxygen lasts 9 days."
    assert document["chunkSource"] == f"link://{page_server}/docs/moon"
    assert document["docSource"] == "URL link uploaded by the user."
    assert re.fullmatch(rf"custom-documents/url-127.0.0.1_docs_moon-{UUID}\.json", document["location"])
    assert document["title"] == "127.0.0.1_docs_moon.html"
    rows = (await api.get(f"/v1/workspace/{workspace['slug']}")).json["workspace"][0]["documents"]
    assert len(rows) == 1
    unreachable = await api.post("/v1/document/upload-link", json={"link": "example.com/page"})
    assert (unreachable.status, unreachable.json) == (
        500,
        {"success": False, "error": "No URL content found at https://example.com/page.", "documents": []},
    )
    invalid = await api.post("/v1/document/upload-link", json={"link": "ftp://x"})
    assert (invalid.status, invalid.json) == (500, {"success": False, "error": "Not a valid URL."})
    private = await api.post("/v1/document/upload-link", json={"link": "http://10.0.0.1/x"})
    assert private.json["error"] == "Not a valid URL."
