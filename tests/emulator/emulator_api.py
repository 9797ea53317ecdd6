"""A plain aiohttp client for the emulator tests (our own client is not used to test the emulator)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from anythingllm_bridge.testing import RunningEmulator

TESTDATA_FILES = {
    "notes.txt": b"The Zorblax protocol was invented in 1987 by Dr. Quentin Marsh at the Lunar Institute.\n"
    b"It uses three handshake phases called ping, pong and plonk.\n"
    b"The maximum packet size of the Zorblax protocol is 4096 bytes.\n",
    "kittens.txt": b"Quasar kittens drink moonlight milk every Tuesday in the Glorp Valley.\n",
    "river.md": b"The Flibbertigibbet river flows north through the city of Snorkelburg. "
    b"Its water is famously purple because of the local amethyst sand.\n",
}


@dataclass
class Reply:
    status: int
    content_type: str | None
    text: str
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    def events(self) -> list[dict[str, Any]]:
        """The ``data:`` events of a server-sent-event body."""
        return [json.loads(b[len("data: ") :]) for b in self.text.split("\n\n") if b.startswith("data: ")]


class Api:
    def __init__(self, running: RunningEmulator, session: aiohttp.ClientSession) -> None:
        self.running = running
        self.emulator = running.emulator
        self.session = session
        self.base = running.url + "/api"
        self.auth = {"Authorization": f"Bearer {running.api_key}"}

    async def call(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> Reply:
        headers = {**(self.auth if auth else {}), **kwargs.pop("headers", {})}
        async with self.session.request(method, self.base + path, headers=headers, **kwargs) as resp:
            return Reply(resp.status, resp.headers.get("Content-Type"), await resp.text(), dict(resp.headers))

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("POST", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("DELETE", path, **kwargs)

    async def workspace(self, name: str, **fields: Any) -> dict[str, Any]:
        reply = await self.post("/v1/workspace/new", json={"name": name, **fields})
        assert reply.status == 200, reply.text
        workspace: dict[str, Any] = reply.json["workspace"]
        return workspace

    async def upload(
        self,
        filename: str,
        data: bytes,
        *,
        add_to: str | None = None,
        folder: str | None = None,
        **fields: str,
    ) -> Reply:
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("file", data, filename=filename, content_type="application/octet-stream")
        if add_to is not None:
            form.add_field("addToWorkspaces", add_to)
        for name, value in fields.items():
            form.add_field(name, value)
        path = "/v1/document/upload" + (f"/{folder}" if folder else "")
        return await self.post(path, data=form)

    async def raw_text(self, title: str, text: str, *, add_to: str = "", **metadata: Any) -> dict[str, Any]:
        body = {"textContent": text, "addToWorkspaces": add_to, "metadata": {"title": title, **metadata}}
        reply = await self.post("/v1/document/raw-text", json=body)
        assert reply.status == 200, reply.text
        document: dict[str, Any] = reply.json["documents"][0]
        return document
