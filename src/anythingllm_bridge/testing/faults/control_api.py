"""The control endpoints under ``/_emulator/``: faults, outages, embedding loss, the request log and a
reset, over HTTP and without an API key, so a standalone emulator can be driven from another process
or from ``curl``.

The bodies are the same models the Python methods take (:class:`~.rules.Fault`,
:class:`~.injector.Outage`, :class:`~.embedding_loss.EmbeddingLoss`) as JSON objects, and the answers
are what was set, as listed. Bad input answers 400 ``{"error": "..."}`` naming what was wrong.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web

from anythingllm_bridge.testing.faults.embedding_loss import EmbeddingLoss
from anythingllm_bridge.testing.faults.injector import FaultInjector, Outage
from anythingllm_bridge.testing.faults.rules import Fault

__all__ = ["CONTROL_PREFIX", "ControlApi"]

CONTROL_PREFIX = "/_emulator/"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_Action = Callable[[web.Request], Awaitable[Any]]


class ControlApi:
    """Serves ``/_emulator/*`` for ``faults``; ``reset`` is what ``POST /_emulator/reset`` calls (the
    emulator's own reset: state and faults). Install :attr:`middleware` first, so control requests are
    neither faulted, recorded nor checked for an API key."""

    def __init__(self, faults: FaultInjector, reset: Callable[[], None]) -> None:
        self.faults = faults
        self._reset = reset
        self._endpoints: dict[str, dict[str, _Action]] = {
            "faults": {"GET": self._list, "POST": self._add, "DELETE": self._clear},
            "outage": {"POST": self._outage},
            "embedding-loss": {"POST": self._embedding_loss},
            "requests": {"GET": self._requests, "DELETE": self._clear_requests},
            "reset": {"POST": self._reset_all},
        }

    @web.middleware
    async def middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Answer a control request; pass any other request on."""
        path = request.path
        if not (path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/")):
            return await handler(request)
        name = path[len(CONTROL_PREFIX) :].rstrip("/")
        if name.startswith("faults/"):
            endpoint: dict[str, _Action] | None = {"DELETE": self._remove}
        else:
            endpoint = self._endpoints.get(name)
        if endpoint is None:
            return web.json_response({"error": f"unknown control endpoint {path}"}, status=404)
        action = endpoint.get(request.method)
        if action is None:
            return web.json_response({"error": f"{request.method} is not allowed on {path}"}, status=405)
        try:
            answer = await action(request)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if isinstance(answer, web.StreamResponse):
            return answer
        return web.json_response(answer)

    async def _list(self, request: web.Request) -> Any:
        return {"faults": self.faults.active()}

    async def _add(self, request: web.Request) -> Any:
        return self.faults.rules.add(Fault(**await _json_object(request)))

    async def _clear(self, request: web.Request) -> Any:
        self.faults.clear()
        return {"cleared": True}

    async def _remove(self, request: web.Request) -> Any:
        fault_id = request.path[len(CONTROL_PREFIX) :].rstrip("/").removeprefix("faults/")
        if self.faults.remove(fault_id):
            return {"removed": fault_id}
        return web.json_response({"error": f"no fault with id {fault_id!r}"}, status=404)

    async def _outage(self, request: web.Request) -> Any:
        setting = Outage(**await _json_object(request))
        self.faults.outage(setting)
        return setting.model_dump(mode="json")

    async def _embedding_loss(self, request: web.Request) -> Any:
        setting = EmbeddingLoss(**await _json_object(request))
        self.faults.lose_embeddings(setting)
        return setting.model_dump(mode="json")

    async def _requests(self, request: web.Request) -> Any:
        return {"requests": [entry.to_dict() for entry in self.faults.requests]}

    async def _clear_requests(self, request: web.Request) -> Any:
        return {"cleared": self.faults.clear_requests()}

    async def _reset_all(self, request: web.Request) -> Any:
        self._reset()
        return {"reset": True}


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError as exc:
        raise ValueError(f"the request body must be a JSON object: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"the request body must be a JSON object, got {type(data).__name__}")
    return cast(dict[str, Any], data)
