"""One contender doing one task against one server, in its own process (driven by compare.py).

The first stdin line is a JSON spec::

    {"contender": "ours"|"sync"|"aiohttp"|"apything", "task": "ingest"|"chat"|"stream"|"search",
     "concurrency": N, "url": "http://host:port", "key": "...", "types": "txt,md,...",
     "state": "/tmp/dir for the sync's state"}

then one JSON command per line, each answered with one JSON line on stdout:
``{"cmd": "go", "round": R, "workspace": slug, "files": [...], "messages": [...]}`` (R = -1 is the
warm-up) → ``{"ok", "error", "wall", "cpu", "items", "ttft": [seconds to the first token of each
streamed answer]}``; ``{"cmd": "exit"}`` → the process's peak RSS. If the contender cannot do the
task at all, the answer to the spec is ``{"supported": false, "why": ...}``.

What each contender sends:

* ``ours``: ``AnythingLLMClient(url, key)`` with its defaults; ingest =
  ``upload_documents(workspace, files, concurrency=N)`` (it checks and repairs the embeddings);
  chat = ``chat()``; stream = ``chat(..., stream=True)``; search = ``search_workspace()``.
* ``sync``: ingest only: ``allm sync FOLDER --workspace SLUG --concurrency N --types ... --json`` as a
  new process per round (process start, imports and settings included), state in its own folder.
* ``aiohttp`` (the ceiling): a bare ``ClientSession`` (``limit_per_host=N``); ingest = one multipart
  upload per file with ``addToWorkspaces``, N at a time, nothing checked; chat / stream / search =
  the plain requests, each answer decoded.
* ``apything``: apything 0.2.0, synchronous; ingest = ``documents.upload_file`` per file one after
  another, then one ``workspaces.update_embeddings`` with every location (its ``ChatSession.embed``
  does this); chat = ``workspaces.chat_with_workspace`` from N threads, one ``APIClient`` each. It has
  no streaming and no vector search.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import os
import resource
import subprocess
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


class Unsupported(Exception):
    """The contender has no way to do this task."""


class Outcome:
    """What one round reports besides its time: ``ok`` (it did the whole job; else ``error`` says
    why and the round is not timed), ``note`` (something to report about a round that counts)."""

    def __init__(
        self, ok: bool, ttft: list[float] | None = None, error: str | None = None, note: str | None = None
    ) -> None:
        self.ok, self.ttft, self.error, self.note = ok, ttft or [], error, note


Round = Callable[[dict[str, Any]], Awaitable[Outcome]]


def peak_rss_mib(*, children: bool = False) -> float:
    """This process's peak RSS (``VmHWM``: since its own start; ``ru_maxrss`` would also count the
    process it was forked from), or its children's largest (``ru_maxrss``; they fork from this small
    process, so that is theirs)."""
    if children:
        return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) and of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


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


def session_of(command: dict[str, Any]) -> str:
    return f"bench-{command['round']}"


# --------------------------------------------------------------------------------------- ours


@asynccontextmanager
async def ours_job(spec: dict[str, Any]) -> AsyncIterator[Round]:
    from anythingllm_bridge.client import AnythingLLMClient

    task, c = spec["task"], spec["concurrency"]
    async with AnythingLLMClient(spec["url"], spec["key"]) as client:

        async def once(command: dict[str, Any]) -> Outcome:
            slug = command["workspace"]
            if task == "ingest":
                results = await client.upload_documents(slug, command["files"], concurrency=c)
                bad = [r for r in results if not r.ok]
                repaired = sum(r.status == "repaired" for r in results)
                note = f"reported {len(bad)} not embedded ({bad[0].status}: {bad[0].error})" if bad else None
                if repaired and not bad:
                    note = "repaired some (see the embedded column for the outcome)"
                return Outcome(True, note=note)
            session = session_of(command)
            if task == "chat":

                async def ask(message: str) -> bool:
                    answer = await client.chat(slug, message, mode=CHAT_MODE, session_id=session)
                    return bool(answer.text_response)

                return Outcome(all(await drive(c, command["messages"], ask)))
            if task == "stream":
                firsts: list[float] = []

                async def streamed(message: str) -> bool:
                    started = time.perf_counter()
                    stream = await client.chat(slug, message, mode=CHAT_MODE, session_id=session, stream=True)
                    text = []
                    async for event in stream:
                        if event.text_response:
                            if not text:
                                firsts.append(time.perf_counter() - started)
                            text.append(event.text_response)
                    return bool(text)

                return Outcome(all(await drive(c, command["messages"], streamed)), firsts)

            async def search(query: str) -> bool:
                return bool(await client.search_workspace(slug, query, limit=TOP_N))

            return Outcome(all(await drive(c, command["messages"], search)))

        yield once


# --------------------------------------------------------------------------------------- sync


@asynccontextmanager
async def sync_job(spec: dict[str, Any]) -> AsyncIterator[Round]:
    """``allm sync`` of the round's folder, a new process each round."""
    if spec["task"] != "ingest":
        raise Unsupported("`allm sync` only ingests")
    allm = Path(sys.executable).with_name("allm")
    state = Path(spec["state"])
    env = {
        **os.environ,
        "ANYTHINGLLM_URL": spec["url"],
        "ANYTHINGLLM_API_KEY": spec["key"],
        "XDG_STATE_HOME": str(state),
        "XDG_CONFIG_HOME": str(state / "config"),  # no user config file changes what it does
    }

    async def once(command: dict[str, Any]) -> Outcome:
        folder = str(Path(command["files"][0]).parent)
        argv = [str(allm), "sync", folder, "--workspace", command["workspace"]]
        argv += ["--concurrency", str(spec["concurrency"]), "--types", spec["types"], "--json"]
        done = await asyncio.to_thread(subprocess.run, argv, env=env, capture_output=True, text=True)
        tail = ((done.stderr or done.stdout).strip().splitlines() or [""])[-1][:200]
        if done.returncode == 1 and done.stdout.lstrip().startswith("{"):  # it ran; some file failed
            return Outcome(True, note=f"allm sync exit 1: {tail}")
        if done.returncode != 0:
            return Outcome(False, error=f"allm sync exit {done.returncode}: {tail}")
        return Outcome(True)

    yield once


# ------------------------------------------------------------------------------ bare aiohttp


@asynccontextmanager
async def aiohttp_job(spec: dict[str, Any]) -> AsyncIterator[Round]:
    """The ceiling: a plain ClientSession, the fewest requests that do the job, no checks."""
    import aiohttp

    task, c = spec["task"], spec["concurrency"]
    # idle connections closed after 4 s, before the server's 5 s (Node's default) closes them under it
    connector = aiohttp.TCPConnector(limit_per_host=c, keepalive_timeout=4.0)
    headers = {"Authorization": f"Bearer {spec['key']}"}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=600)
    async with aiohttp.ClientSession(
        spec["url"], connector=connector, headers=headers, timeout=timeout
    ) as session:

        async def call(method: str, path: str, **kwargs: Any) -> Any:
            async with session.request(method, "/api" + path, **kwargs) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{method} {path}: HTTP {response.status}")
                return json.loads(body)

        async def once(command: dict[str, Any]) -> Outcome:
            slug = command["workspace"]
            if task == "ingest":

                async def upload(path: str) -> bool:
                    name = Path(path).name
                    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
                    form = aiohttp.FormData(quote_fields=False)
                    form.add_field("file", Path(path).read_bytes(), filename=name, content_type=kind)  # noqa: ASYNC240
                    form.add_field("addToWorkspaces", slug)
                    data = await call("POST", "/v1/document/upload", data=form)
                    return bool(data["documents"][0]["location"])

                return Outcome(all(await drive(c, command["files"], upload)))
            session_id = session_of(command)
            if task == "chat":

                async def ask(message: str) -> bool:
                    body = {"message": message, "mode": CHAT_MODE, "sessionId": session_id}
                    data = await call("POST", f"/v1/workspace/{slug}/chat", json=body)
                    return bool(data.get("textResponse"))

                return Outcome(all(await drive(c, command["messages"], ask)))
            if task == "stream":
                firsts: list[float] = []

                async def streamed(message: str) -> bool:
                    started = time.perf_counter()
                    body = {"message": message, "mode": CHAT_MODE, "sessionId": session_id}
                    text = []
                    path = f"/api/v1/workspace/{slug}/stream-chat"
                    async with session.post(path, json=body) as response:
                        async for line in response.content:
                            if not line.startswith(b"data: "):
                                continue
                            piece = json.loads(line[6:]).get("textResponse")
                            if piece:
                                if not text:
                                    firsts.append(time.perf_counter() - started)
                                text.append(piece)
                    return bool(text)

                return Outcome(all(await drive(c, command["messages"], streamed)), firsts)

            async def search(query: str) -> bool:
                body = {"query": query, "topN": TOP_N}
                return bool((await call("POST", f"/v1/workspace/{slug}/vector-search", json=body))["results"])

            return Outcome(all(await drive(c, command["messages"], search)))

        yield once


# ---------------------------------------------------------------------------------- apything


@asynccontextmanager
async def apything_job(spec: dict[str, Any]) -> AsyncIterator[Round]:
    """apything 0.2.0 (synchronous; one ``requests.Session`` per ``APIClient``). Its calls run in
    this coroutine, blocking the loop, which has nothing else to do."""
    from apything import APIClient, ChatRequest

    task, c = spec["task"], spec["concurrency"]
    if task in ("stream", "search"):
        raise Unsupported(
            f"apything 0.2.0 has no {'streaming' if task == 'stream' else 'vector-search'} call"
        )
    clients = [APIClient(spec["url"], spec["key"]) for _ in range(c)]

    async def once(command: dict[str, Any]) -> Outcome:
        slug = command["workspace"]
        if task == "ingest":
            locations = []
            for path in command["files"]:  # its documented, sequential use
                success, error, document = clients[0].documents.upload_file(path)
                if not success:
                    return Outcome(False, error=f"upload failed: {error}")
                locations.append(str(document.location))
            return Outcome(bool(clients[0].workspaces.update_embeddings(slug, files_to_add=locations)))

        def ask(client: Any, message: str) -> bool:
            request = ChatRequest(message=message, mode=CHAT_MODE, sessionId=session_of(command))
            return bool(client.workspaces.chat_with_workspace(slug, request).textResponse)

        return Outcome(all(drive_threads(c, command["messages"], clients, ask)))

    yield once


JOBS = {"ours": ours_job, "sync": sync_job, "aiohttp": aiohttp_job, "apything": apything_job}


def reply(answer: dict[str, Any]) -> None:
    print(json.dumps(answer), flush=True)


async def serve() -> None:
    spec = json.loads(sys.stdin.readline())
    try:
        job = JOBS[spec["contender"]](spec)
        once = await job.__aenter__()
    except Unsupported as exc:
        reply({"supported": False, "why": str(exc)})
        return
    reply({"supported": True})
    try:
        # Blocking reads between rounds: nothing else runs in this process meanwhile.
        for line in sys.stdin:
            command = json.loads(line)
            if command["cmd"] == "exit":
                break
            cpu, started = cpu_seconds(), time.perf_counter()
            try:
                outcome = await once(command)
            except Exception as exc:
                outcome = Outcome(False, error=f"{type(exc).__name__}: {exc}"[:300])
            wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
            answer = {"ok": outcome.ok, "error": outcome.error, "note": outcome.note, "ttft": outcome.ttft}
            reply(answer | {"wall": wall, "cpu": cpu})
    finally:
        await job.__aexit__(None, None, None)
    # allm sync runs in child processes: their peak, not this driver's
    reply({"rss_mib": peak_rss_mib(children=spec["contender"] == "sync")})


if __name__ == "__main__":
    asyncio.run(serve())
