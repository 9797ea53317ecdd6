"""What every resource mixin shares: the transport (with the client's per-call options), path
building, what a call names (its :class:`Subject`), the workspace lookup, and the one resolver that
turns a workspace's or thread's numeric id into its slug."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from anythingllm_bridge.client._errors import Subject
from anythingllm_bridge.client.models import Thread, Workspace
from anythingllm_bridge.errors import AnythingLLMNotFoundError, AnythingLLMProtocolError

if TYPE_CHECKING:
    from anythingllm_bridge.client._attempt import ApiResponse
    from anythingllm_bridge.client._transport import Transport
    from anythingllm_bridge.resilience.breaker_wait import BreakerWait

__all__ = [
    "KnownIds",
    "Resource",
    "ThreadRef",
    "WorkspaceRef",
    "folder_segment",
    "join_slugs",
    "json_object",
    "parse",
    "parse_list",
    "segment",
    "thread_subject",
    "workspace_object",
    "workspace_subject",
]

M = TypeVar("M", bound=BaseModel)

#: A workspace: its slug, or its numeric ``id`` (``int`` only: a digit string is a slug, since a
#: workspace named "2024" has the slug "2024").
WorkspaceRef = str | int
#: A thread: its slug, or the numeric ``id`` of a thread this client created or renamed.
ThreadRef = str | int


def parse(model: type[M], data: Any) -> M:
    """A server answer as ``model``. One that does not fit (a field of the wrong type, not an object)
    raises ``AnythingLLMProtocolError`` naming the model and the field, never pydantic's error."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = exc.errors()
        where = ".".join(str(part) for part in problems[0]["loc"]) if problems else ""
        said = problems[0]["msg"] if problems else str(exc)
        raise AnythingLLMProtocolError(
            f"the server's answer does not fit {model.__name__}: {where or 'the answer'}: {said}",
            body=str(data)[:200],
        ) from None


def parse_list(model: type[M], items: Any) -> list[M]:
    """A list answer (``None`` or empty: ``[]``) as a list of ``model``."""
    if not items:
        return []
    if not isinstance(items, list):
        raise AnythingLLMProtocolError(
            f"expected a list of {model.__name__}, got {type(items).__name__}", body=str(items)[:200]
        )
    return [parse(model, item) for item in items]


def segment(value: str, what: str = "slug") -> str:
    """One URL path segment, percent-encoded; refuses empty values and ``/``."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return quote(value, safe="")


def join_slugs(slugs: Iterable[str]) -> str | None:
    """``addToWorkspaces`` as the server wants it: one comma-separated string."""
    cleaned: list[str] = []
    for slug in slugs:
        if not isinstance(slug, str) or not slug.strip() or "," in slug:
            raise ValueError(f"workspace slugs must be non-empty strings without commas, got {slug!r}")
        cleaned.append(slug.strip().lower())
    return ",".join(cleaned) or None


class KnownIds:
    """The id -> slug pairs this client has seen in the server's answers."""

    def __init__(self) -> None:
        self.workspaces: dict[int, str] = {}
        self.threads: dict[int, str] = {}

    def learn(self, item: Workspace | Thread) -> None:
        """Remember ``item``'s id (workspaces and threads alike)."""
        if item.id is not None:
            known = self.workspaces if isinstance(item, Workspace) else self.threads
            known[item.id] = item.slug

    def forget_workspace(self, slug: str) -> None:
        """Drop a deleted workspace (or a slug that now names another one)."""
        for key in [key for key, value in self.workspaces.items() if value == slug]:
            del self.workspaces[key]


def workspace_object(data: Any) -> dict[str, Any] | None:
    """The workspace in an answer's ``workspace`` envelope: the server sends an object or a list of
    one (``GET /v1/workspace/<slug>``); ``None`` when it sends none (missing, ``null``, ``[]``)."""
    raw = data.get("workspace") if isinstance(data, dict) else None
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    return raw if isinstance(raw, dict) and raw else None


def workspace_subject(slug: str) -> Subject:
    """A call about one workspace: the server answers a bare 400 ``Bad Request`` (or 404) when it
    does not exist."""
    return Subject(f"workspace {slug!r}", bare=400)


def thread_subject(slug: str, thread_slug: str, *, crashes: bool = False) -> Subject:
    """A call about one thread of a workspace (``crashes``: the route crashes on an unknown workspace)."""
    return Subject(f"workspace {slug!r} or its thread {thread_slug!r}", bare=400, crashes=crashes)


def _check_ref(ref: object, what: str) -> None:
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        raise ValueError(f"a {what} is its slug (str) or its numeric id (int), got {type(ref).__name__}")


class Resource:
    """Base of the resource mixins. ``_transport`` is set by ``AnythingLLMClient``; so is
    ``_breaker_wait``, the option every call of the client (or of a ``with_options`` view) carries."""

    _transport: Transport
    _breaker_wait: BreakerWait | None = None
    #: set once by ``AnythingLLMClient`` and shared by its ``with_options`` views
    _known_ids: KnownIds

    async def _slug(self, workspace: WorkspaceRef) -> str:
        """The slug of ``workspace``, given as a slug or as a numeric id (see :meth:`_by_id`)."""
        _check_ref(workspace, "workspace")
        if isinstance(workspace, str):
            return workspace
        return (await self._by_id(workspace)).slug

    async def _by_id(self, workspace_id: int) -> Workspace:
        """The workspace whose numeric id is ``workspace_id``.

        The slug this client last saw for the id is checked first (``GET /v1/workspace/<slug>``):
        a slug may since name another workspace (deleted, then made again under the same name) or
        none. When it does not answer with this id, the id is looked for in ``GET /v1/workspaces``;
        an id no workspace has raises ``AnythingLLMNotFoundError``.
        """
        cached = self._known_ids.workspaces.get(workspace_id)
        if cached is not None:
            try:
                workspace = await self._fetch_workspace(cached)
            except AnythingLLMNotFoundError:
                workspace = None
            if workspace is not None and workspace.id == workspace_id:
                return workspace
            self._known_ids.forget_workspace(cached)
        for item in parse_list(Workspace, await self._object("GET", "/v1/workspaces", "workspaces")):
            self._known_ids.learn(item)
        slug = self._known_ids.workspaces.get(workspace_id)
        if slug is None:
            raise AnythingLLMNotFoundError(
                f"no workspace has the id {workspace_id}", status=200, method="GET", path="/v1/workspaces"
            )
        workspace = await self._fetch_workspace(slug)
        self._known_ids.learn(workspace)
        return workspace

    async def _slugs(self, workspaces: WorkspaceRef | Iterable[WorkspaceRef] | None) -> str | None:
        """``addToWorkspaces`` for one or more workspaces (slugs or ids); ``None`` for none."""
        if workspaces is None:
            return None
        refs = [workspaces] if isinstance(workspaces, str | int) else list(workspaces)
        return join_slugs([await self._slug(ref) for ref in refs])

    async def _thread_slug(self, thread: ThreadRef) -> str:
        """The slug of ``thread``, given as a slug or as the numeric id of a thread this client
        created or renamed (the server lists threads without their ids, so no other id can be
        looked up); any other id raises ``AnythingLLMNotFoundError``."""
        _check_ref(thread, "thread")
        if isinstance(thread, str):
            return thread
        slug = self._known_ids.threads.get(thread)
        if slug is None:
            raise AnythingLLMNotFoundError(
                f"thread id {thread} is not one this client created or renamed; the server lists "
                "threads without ids, so name it by its slug",
                status=404,  # nothing was sent: no workspace lists thread ids
            )
        return slug

    async def _request(self, method: str, path: str, **options: Any) -> ApiResponse:
        """``Transport.request`` with the client's per-call options."""
        return await self._transport.request(method, path, breaker_wait=self._breaker_wait, **options)

    def _stream(self, method: str, path: str, **options: Any) -> AsyncGenerator[dict[str, Any], None]:
        """``Transport.stream`` with the client's per-call options."""
        return self._transport.stream(method, path, breaker_wait=self._breaker_wait, **options)

    async def _object(self, method: str, path: str, key: str | None = None, **options: Any) -> Any:
        """A JSON object answer, optionally one key of it; anything else is a protocol error
        (error answers are raised by the transport). ``options`` go to ``Transport.request``."""
        data = json_object((await self._request(method, path, **options)).data, method, path, key)
        return data[key] if key is not None else data

    async def _fetch_workspace(self, slug: str) -> Workspace:
        """``GET /v1/workspace/<slug>``: the workspace with its documents and threads.

        The server answers an object or a one-element list, and an unknown slug with
        ``{"workspace": []}`` (HTTP 200) — which becomes ``AnythingLLMNotFoundError``.
        """
        path = f"/v1/workspace/{segment(slug)}"
        data = await self._object("GET", path, subject=workspace_subject(slug))
        raw = workspace_object(data)
        if raw is None:
            raise AnythingLLMNotFoundError(
                f"workspace {slug!r} does not exist",
                status=200,
                body=data,
                server_message=None,
                method="GET",
                path=path,
            )
        return parse(Workspace, raw)


def json_object(data: Any, method: str, path: str, key: str | None = None) -> dict[str, Any]:
    """``data`` (an answer's body) when it is a JSON object (holding ``key``, when given); anything
    else is ``AnythingLLMProtocolError`` naming the call."""
    if not isinstance(data, dict) or (key is not None and key not in data):
        expected = f"a JSON object with {key!r}" if key else "a JSON object"
        raise AnythingLLMProtocolError(
            f"expected {expected}, got {type(data).__name__}: {str(data)[:200]!r}",
            method=method,
            path=path,
        )
    return data


def folder_segment(folder: str) -> str:
    """A document folder name: exactly one path segment (storage is two levels deep)."""
    if not isinstance(folder, str) or not folder.strip():
        raise ValueError(f"folder must be a non-empty name, got {folder!r}")
    if folder in (".", "..") or "/" in folder or "\\" in folder:
        raise ValueError(f"folder must be a single name without '/', '\\\\', '.' or '..', got {folder!r}")
    return quote(folder, safe="")
