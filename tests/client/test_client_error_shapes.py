"""Every error shape recorded from a real AnythingLLM 1.16.0, through the client's methods.

(The mapping itself is unit-tested with the transport; here each shape is produced by the
emulator — or a real server — over HTTP and must reach the caller as the right exception.)
"""

from __future__ import annotations

from typing import Any

import pytest

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.errors import (
    AnythingLLMAuthenticationError,
    AnythingLLMNotFoundError,
    AnythingLLMProtocolError,
    AnythingLLMServerError,
    AnythingLLMValidationError,
)
from support import Server, make_client


@pytest.mark.parametrize("key", ["WRONG-KEY", None])
async def test_bad_or_missing_key_is_an_authentication_error(server: Server, key: str | None) -> None:
    async with make_client(server.url, key) as client:
        with pytest.raises(AnythingLLMAuthenticationError) as caught:
            await client.list_workspaces()
    assert caught.value.status == 403
    assert caught.value.server_message == "No valid api key found."
    assert caught.value.path is not None
    assert caught.value.path.endswith("/v1/workspaces")


async def test_unknown_workspace_in_every_shape(client: AnythingLLMClient) -> None:
    slug = "no-such-workspace-xyz"
    calls = {
        "200 {workspace: []}": client.get_workspace(slug),
        "400 Bad Request (update)": client.update_workspace(slug, name="x"),
        "400 Bad Request (delete)": client.delete_workspace(slug),
        "400 Bad Request (chats)": client.get_workspace_chats(slug),
        "400 abort (chat)": client.chat(slug, "hi"),
        "400 message (vector-search)": client.search_workspace(slug, "x"),
        "404 message (thread update)": client.update_thread(slug, "t", "x"),
        "404 abort (thread chat)": client.send_message(slug, "t", "hi"),
    }
    for label, call in calls.items():
        with pytest.raises(AnythingLLMNotFoundError):
            await call
        print("not found as expected:", label)


async def test_html_from_an_unknown_route_names_the_likely_cause(client: AnythingLLMClient) -> None:
    with pytest.raises(AnythingLLMProtocolError) as caught:
        await client.transport.request("GET", "/v1/does-not-exist")
    message = str(caught.value).lower()
    assert "base url" in message
    assert caught.value.content_type == "text/html"


async def test_a_wrong_base_url_is_a_protocol_error(emulator: Any) -> None:
    # the web UI answers paths it does not know with its HTML page (status 200)
    async with make_client(emulator.url + "/ui", emulator.api_key, max_retries=0) as client:
        with pytest.raises(AnythingLLMProtocolError, match="base URL is probably wrong"):
            await client.list_workspaces()


async def test_422_raw_text_and_500_unsupported_file(client: AnythingLLMClient, tmp_path: Any) -> None:
    with pytest.raises(AnythingLLMValidationError) as validation:
        await client.upload_text("title", "")
    assert validation.value.status == 422
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(AnythingLLMServerError) as server_error:
        await client.upload_file(path)
    assert "File extension .bin not supported" in (server_error.value.server_message or "")


async def test_body_parser_html_page_is_a_validation_error(client: AnythingLLMClient) -> None:
    # Express's JSON parser refuses a body that is not an object with its HTML "Bad Request" page
    with pytest.raises(AnythingLLMValidationError) as caught:
        await client.transport.request("POST", "/v1/workspace/new", json="not an object")
    assert caught.value.status == 400
    assert "could not read the request body" in str(caught.value)


async def test_server_errors_carry_status_and_trace_id(emu_client: AnythingLLMClient, emulator: Any) -> None:
    emulator.emulator.faults.add(
        "GET", "/api/v1/workspaces", status=500, body="Internal Server Error", times=None
    )
    with pytest.raises(AnythingLLMServerError) as caught:
        await emu_client.list_workspaces()
    assert caught.value.status == 500
    assert caught.value.trace_id
    recorded = [r for r in emulator.emulator.faults.requests if r.path == "/api/v1/workspaces"]
    assert caught.value.trace_id in {r.request_id for r in recorded}
