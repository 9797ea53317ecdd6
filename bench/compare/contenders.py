"""One contender doing one task against its own emulator, in its own process (driven by compare.py).

The first stdin line is a JSON spec::

    {"contender": "ours"|"apything"|"aiohttp", "task": "upload"|"chat"|"search", "concurrency": N,
     "url": "http://127.0.0.1:P", "key": "...", "workspaces": [one slug per round],
     "warmup_workspace": "slug", "files": [...], "warmup_files": [...], "messages": [...],
     "warmup_messages": [...]}

then one command per line, each answered with one JSON line on stdout: ``warm`` (a warm-up of the
same kind at the same concurrency, so the connection pool is full), ``go R`` (timed round R: wall
and CPU seconds, whether the result was right), ``exit`` (the process's peak RSS and notes). If the
contender cannot do the task at all, the answer to the spec is ``{"supported": false, "why": ...}``.

Uploads of round R go to ``workspaces[R]``; chats and searches use ``workspaces[0]``, which holds
the files uploaded in the upload phase. ``ours`` and ``aiohttp`` send the same requests: upload =
GET workspace, one multipart upload per file with ``addToWorkspaces``, GET workspace (the embedding
check); chat = POST .../chat {message, mode, sessionId}; search = POST .../vector-search {query,
topN}. apything sends what its own methods send (see :func:`apything_job`).
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import resource
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

T = TypeVar("T")
R = TypeVar("R")

CHAT_MODE: Final = "chat"
TOP_N = 4
EMBED_BATCH = 50  # files per update-embeddings call, as upload_documents does

Round = Callable[[int], Awaitable[bool]]  # the warm-up is round -1


class Unsupported(Exception):
    """The contender has no way to do this task."""


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def drive(concurrency: int, items: Sequence[T], call: Callable[[T], Awaitable[R]]) -> list[R]:
    """``call`` on every item, ``concurrency`` workers pulling from one queue; results in order."""
    results: list[Any] = [None] * len(items)
    indices = iter(range(len(items)))

    async def worker() -> None:
        for index in indices:
            results[index] = await call(items[index])

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


def drive_threads(
    concurrency: int, items: Sequence[T], clients: Sequence[Any], call: Callable[[Any, T], R]
) -> list[R]:
    """The threaded twin of :func:`drive`: worker ``i`` uses ``clients[i]``."""
    if concurrency == 1:
        return [call(clients[0], item) for item in items]
    results: list[Any] = [None] * len(items)
    lock = threading.Lock()
    indices = iter(range(len(items)))
    errors: list[BaseException] = []

    def worker(client: Any) -> None:
        while not errors:
            with lock:
                index = next(indices, None)
            if index is None:
                return
            try:
                results[index] = call(client, items[index])
            except BaseException as exc:  # re-raised after join
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(clients[i],)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def pick(spec: dict[str, Any], index: int) -> tuple[str, list[str]]:
    """The workspace and inputs of round ``index`` (-1: the warm-up)."""
    if spec["task"] == "upload":
        if index < 0:
            return spec["warmup_workspace"], spec["warmup_files"]
        return spec["workspaces"][index], spec["files"]
    return spec["workspaces"][0], spec["warmup_messages"] if index < 0 else spec["messages"]


def requests_per_round(spec: dict[str, Any]) -> int:
    """Requests of one timed round (apything's upload round sends one fewer: see apything_job)."""
    if spec["task"] == "upload":
        if spec["contender"] == "apything":
            return len(spec["files"]) + 1
        return len(spec["files"]) + 1 + -(-len(spec["files"]) // EMBED_BATCH)  # + update-embeddings calls
    return len(spec["messages"])


# --------------------------------------------------------------------------------------- ours


@asynccontextmanager
async def ours_job(spec: dict[str, Any], notes: list[str]) -> AsyncIterator[Round]:
    from anythingllm_bridge.client import AnythingLLMClient

    task, c = spec["task"], spec["concurrency"]
    # The documented knobs set to the concurrency under test, as the ceiling's connector is.
    client = AnythingLLMClient(spec["url"], spec["key"], max_concurrency=c, max_connections_per_host=c)
    async with client:

        async def once(index: int) -> bool:
            slug, items = pick(spec, index)
            if task == "upload":
                uploaded = await client.upload_documents(slug, items, concurrency=c)
                return len(uploaded) == len(items) and all(item.status == "embedded" for item in uploaded)
            if task == "chat":
                session = f"bench-{index}"

                async def ask(message: str) -> bool:
                    answer = await client.chat(slug, message, mode=CHAT_MODE, session_id=session)
                    return bool(answer.text_response)

                return all(await drive(c, items, ask))

            async def search(query: str) -> bool:
                return bool(await client.search_workspace(slug, query, limit=TOP_N))

            return all(await drive(c, items, search))

        yield once


# ------------------------------------------------------------------------------ bare aiohttp


@asynccontextmanager
async def aiohttp_job(spec: dict[str, Any], notes: list[str]) -> AsyncIterator[Round]:
    """The ceiling: a plain ClientSession sending the same requests, decoding each JSON answer."""
    import aiohttp

    task, c = spec["task"], spec["concurrency"]
    connector = aiohttp.TCPConnector(limit_per_host=c)
    headers = {"Authorization": f"Bearer {spec['key']}"}
    async with aiohttp.ClientSession(spec["url"], connector=connector, headers=headers) as session:

        async def call(method: str, path: str, **kwargs: Any) -> Any:
            async with session.request(method, "/api" + path, **kwargs) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{method} {path}: HTTP {response.status}")
                return json.loads(body)

        async def docpaths(workspace: str) -> set[str]:
            data = await call("GET", f"/v1/workspace/{workspace}")
            return {doc["docpath"] for doc in data["workspace"][0]["documents"]}

        async def once(index: int) -> bool:
            slug, items = pick(spec, index)
            if task == "upload":
                await docpaths(slug)
                queue: asyncio.Queue = asyncio.Queue()
                state: dict = {}

                async def embed(batch: list[str]) -> None:
                    path = f"/v1/workspace/{slug}/update-embeddings"
                    data = await call("POST", path, json={"adds": batch, "deletes": []})
                    state["docs"] = {d["docpath"] for d in data["workspace"]["documents"]}

                async def embedder() -> None:
                    # the same pattern as our client: uploads without addToWorkspaces, embedded in
                    # batches by one update-embeddings call at a time while uploads go on
                    batch: list[str] = []
                    while (loc := await queue.get()) is not None:
                        batch.append(loc)
                        if len(batch) >= EMBED_BATCH:
                            await embed(batch)
                            batch = []
                    if batch:
                        await embed(batch)

                async def upload(path: str) -> str:
                    # A small file is read whole (no executor round trip), as a bare loop would do;
                    # the request on the wire is the same as ours (name, type, fields).
                    name = Path(path).name
                    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
                    form = aiohttp.FormData(quote_fields=False)
                    form.add_field("file", Path(path).read_bytes(), filename=name, content_type=kind)  # noqa: ASYNC240
                    data = await call("POST", "/v1/document/upload", data=form)
                    loc = str(data["documents"][0]["location"])
                    queue.put_nowait(loc)
                    return loc

                emb = asyncio.create_task(embedder())
                locations = await drive(c, items, upload)
                queue.put_nowait(None)
                await emb
                return set(locations) <= state["docs"]
            if task == "chat":
                session_id = f"bench-{index}"

                async def ask(message: str) -> bool:
                    body = {"message": message, "mode": CHAT_MODE, "sessionId": session_id}
                    data = await call("POST", f"/v1/workspace/{slug}/chat", json=body)
                    return bool(data.get("textResponse"))

                return all(await drive(c, items, ask))

            async def search(query: str) -> bool:
                body = {"query": query, "topN": TOP_N}
                return bool((await call("POST", f"/v1/workspace/{slug}/vector-search", json=body))["results"])

            return all(await drive(c, items, search))

        yield once


# ---------------------------------------------------------------------------------- apything


@asynccontextmanager
async def apything_job(spec: dict[str, Any], notes: list[str]) -> AsyncIterator[Round]:
    """apything 0.2.0 is synchronous (one ``requests.Session`` per ``APIClient``); concurrency N
    means N threads, each with its own ``APIClient`` (a Session is not documented thread-safe).

    upload: ``documents.upload_file`` per file, then one ``workspaces.update_embeddings`` with all
    locations (what its ``ChatSession.embed`` does). chat: ``workspaces.chat_with_workspace``.
    It has no vector search. Its calls run in this coroutine (blocking the loop, which is idle).
    """
    from apything import APIClient, ChatRequest, WorkspaceRequest

    task, c = spec["task"], spec["concurrency"]
    clients = [APIClient(spec["url"], spec["key"]) for _ in range(c)]
    if task == "search" and "vector-search" not in json.dumps(clients[0].config["endpoints"]):
        raise Unsupported("apything 0.2.0 has no vector-search call")
    if task == "upload":  # can it make, or read, its own workspace? (the table shows the answer)
        probes: list[tuple[str, Callable[[], Any]]] = [
            (
                "create_workspace",
                lambda: clients[0].workspaces.create_workspace(
                    WorkspaceRequest(name="apything probe", chatMode=CHAT_MODE)
                ),
            ),
            ("get_workspace", lambda: clients[0].workspaces.get_workspace(spec["workspaces"][0])),
        ]
        for label, attempt in probes:
            try:
                attempt()
            except Exception as exc:
                notes.append(f"`{label}` raises {type(exc).__name__}: {exc}")

    async def once(index: int) -> bool:
        slug, items = pick(spec, index)
        if task == "upload":

            def upload(client: Any, path: str) -> str:
                success, error, document = client.documents.upload_file(path)
                if not success:
                    raise RuntimeError(f"upload failed: {error}")
                return str(document.location)

            locations = drive_threads(c, items, clients, upload)
            return bool(clients[0].workspaces.update_embeddings(slug, files_to_add=locations))
        session_id = f"bench-{index}"

        def ask(client: Any, message: str) -> bool:
            request = ChatRequest(message=message, mode=CHAT_MODE, sessionId=session_id)
            return bool(client.workspaces.chat_with_workspace(slug, request).textResponse)

        return all(drive_threads(c, items, clients, ask))

    yield once


JOBS = {"ours": ours_job, "aiohttp": aiohttp_job, "apything": apything_job}


def reply(answer: dict[str, Any]) -> None:
    print(json.dumps(answer), flush=True)


async def serve() -> None:
    spec = json.loads(sys.stdin.readline())
    notes: list[str] = []
    try:
        job = JOBS[spec["contender"]](spec, notes)
        once = await job.__aenter__()
    except Unsupported as exc:
        reply({"supported": False, "why": str(exc)})
        return
    reply({"supported": True})
    try:
        # Blocking reads between rounds: nothing else runs in this process meanwhile.
        for line in sys.stdin:
            command = line.split()
            if not command or command[0] == "exit":
                break
            index = -1 if command[0] == "warm" else int(command[1])
            cpu, started = cpu_seconds(), time.perf_counter()
            try:
                ok, error = await once(index), None
            except Exception as exc:
                ok, error = False, f"{type(exc).__name__}: {exc}"
            wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
            reply({"ok": ok, "error": error, "wall": wall, "cpu": cpu, "requests": requests_per_round(spec)})
    finally:
        await job.__aexit__(None, None, None)
    reply({"rss_mib": peak_rss_mib(), "notes": notes})


if __name__ == "__main__":
    asyncio.run(serve())
