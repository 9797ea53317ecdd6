"""An AnythingLLM 1.16.0-compatible server for tests and demos, faithful on the wire.

Usage::

    from anythingllm_bridge.testing import Emulator, run_emulator, EmulatorThread

    async with run_emulator(api_key="TEST-KEY") as running:      # serves on 127.0.0.1, a free port
        ...  # talk to running.url + "/api/..."; running.store / .faults / .requests; running.reset()

    with EmulatorThread(api_key="TEST-KEY") as running: ...      # the same, for synchronous code

    python -m anythingllm_bridge.testing.emulator --host 127.0.0.1 --port 3001 --api-key KEY

Routes (all under ``/api``; every ``/v1`` route needs ``Authorization: Bearer <key>``):

* ``GET /ping`` · ``GET /v1/auth`` · ``GET /v1/system`` · ``GET /v1/system/vector-count`` ·
  ``DELETE /v1/system/remove-documents`` · ``GET /v1/system/env-dump``
* workspaces: ``POST /v1/workspace/new`` · ``GET /v1/workspaces`` · ``GET|DELETE /v1/workspace/:slug`` ·
  ``POST .../update`` · ``GET .../chats`` · ``POST .../update-embeddings`` · ``POST .../update-pin`` ·
  ``POST .../chat`` · ``POST .../stream-chat`` · ``POST .../vector-search``
* threads: ``POST .../thread/new`` · ``POST .../thread/:t/update`` · ``DELETE .../thread/:t`` ·
  ``GET .../thread/:t/chats`` · ``POST .../thread/:t/chat`` · ``POST .../thread/:t/stream-chat``
* documents: ``POST /v1/document/upload`` · ``POST /v1/document/upload/:folder`` ·
  ``POST /v1/document/raw-text`` · ``POST /v1/document/upload-link`` · ``GET /v1/documents[?folder=]`` ·
  ``GET /v1/documents/folder/:folder`` · ``GET /v1/document/:name`` ·
  ``GET /v1/document/accepted-file-types`` · ``GET /v1/document/metadata-schema`` ·
  ``POST /v1/document/create-folder`` · ``POST /v1/document/move-files`` ·
  ``DELETE /v1/document/remove-folder``
* OpenAI-compatible: ``GET /v1/openai/models`` · ``POST /v1/openai/chat/completions`` (stream or not) ·
  ``POST /v1/openai/embeddings`` · ``GET /v1/openai/vector_stores``

The real server's quirks are reproduced as recorded from a real AnythingLLM 1.16.0: 403
``{"error": "No valid api key found."}``; ``{"workspace": []}`` for an unknown slug; ``Bad Request`` text
for unknown workspaces on update/delete/embeddings/thread-new; abort envelopes from chat; 422s; Express's
HTML 400 page for malformed JSON; 200 HTML for unknown routes; slugs by the server's slugify rules.
Retrieval is real (chunks, a lexical embedding, cosine distance, ``topN`` and threshold) and answers are
deterministic, built from the retrieved chunks. Fault injection (statuses, latency, dropped connections,
cut streams, outages, lost embeddings) is :attr:`Emulator.faults`, also reachable over HTTP under
``/_emulator/`` without a key: see ``docs/faults.md``. State is in memory, one store per emulator.
More in ``docs/emulator.md``.
"""

from __future__ import annotations

from aiohttp import web

from anythingllm_bridge.testing import (
    api_chat,
    api_documents,
    api_files,
    api_openai,
    api_system,
    api_threads,
    api_workspaces,
)
from anythingllm_bridge.testing.express import (
    API_KEY,
    FAULTS,
    LATENCY,
    STORE,
    body_parser,
    check_api_key,
    spa_fallback,
)
from anythingllm_bridge.testing.faults.control_api import ControlApi
from anythingllm_bridge.testing.faults.injector import FaultInjector
from anythingllm_bridge.testing.latency import LatencyProfile, ServerTime
from anythingllm_bridge.testing.state import Store
from anythingllm_bridge.testing.wire import node_connection_headers

__all__ = ["MAX_BODY_BYTES", "Emulator"]

#: the largest request body the emulator reads (the real server allows 3 GB of JSON)
MAX_BODY_BYTES = 1 << 30


class Emulator:
    """One emulated server: ``app`` (an ``aiohttp.web.Application``), ``store`` (its state), ``faults``.

    ``seed`` makes generated ids and slug suffixes reproducible. ``latency_profile`` (off by default)
    makes it answer about as slowly as the measured server it describes: see
    :mod:`anythingllm_bridge.testing.latency`. The API key is never shown in ``repr``.
    """

    def __init__(self, api_key: str, *, seed: int = 0, latency_profile: LatencyProfile | None = None) -> None:
        if not isinstance(api_key, str) or not api_key or " " in api_key:
            raise ValueError("api_key must be a non-empty string without spaces")
        self.store = Store(seed=seed)
        self.faults = FaultInjector()
        self.latency = ServerTime(latency_profile)
        self.app = web.Application(
            client_max_size=MAX_BODY_BYTES,
            middlewares=[
                ControlApi(self.faults, self.reset).middleware,
                self.faults.middleware,
                spa_fallback,
                body_parser,
                check_api_key,
            ],
        )
        self.app[API_KEY] = api_key
        self.app[STORE] = self.store
        self.app[FAULTS] = self.faults
        self.app[LATENCY] = self.latency
        for module in (
            api_system,
            api_workspaces,
            api_threads,
            api_chat,
            api_files,
            api_documents,
            api_openai,
        ):
            self.app.add_routes(module.routes())
        self.app.on_response_prepare.append(node_connection_headers)

    @property
    def api_key(self) -> str:
        """The key clients must send (``Authorization: Bearer <key>``)."""
        return self.app[API_KEY]

    def reset(self) -> None:
        """Back to a new emulator's state (same key and seed): no workspaces, documents, threads or
        chats, no faults, an empty request log. Also ``POST /_emulator/reset``."""
        self.store.reset()
        self.faults.reset()

    def __repr__(self) -> str:
        return f"Emulator(workspaces={len(self.store.workspaces)}, faults={len(self.faults.active())})"


if __name__ == "__main__":  # pragma: no cover - the CLI is exercised by a subprocess test
    from anythingllm_bridge.testing.runner import main

    main()
