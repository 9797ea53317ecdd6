"""An optional latency profile: the emulator answers about as slowly as a measured real server, so a
benchmark against it ranks strategies the way the real server does. Off by default (tests stay fast).

::

    from anythingllm_bridge.testing import Emulator, LatencyProfile

    Emulator("KEY", latency_profile=LatencyProfile.named("real-1.16"))   # the shipped profile
    Emulator("KEY", latency_profile=LatencyProfile.from_file("mine.json"))

    python -m anythingllm_bridge.testing.emulator --api-key KEY --latency-profile real-1.16

The model: every cost has a ``serial`` part, spent while holding the one server-wide resource (at
most one request's serial part runs at a time: what a busy server, its embedder and its vector
database on a small machine amount to), and a ``parallel`` part that overlaps with anything (waiting
on another process). So one client alone sees ``serial + parallel`` per request, and many clients at
once see at best one request per ``serial``. Costs are charged where the real server does the work:
per upload (and per MiB of it), per document and per chunk embedded inside an upload with
``addToWorkspaces`` or by ``update-embeddings`` (the two differ on the real server), per
``update-embeddings`` call, per workspace listing and per document listed, per ``GET /v1/documents``
and per document on the server, per chat, streamed chat (to the first token, then to the end) and
vector search. Other routes answer at the emulator's own speed.

With ``table_race`` on, the real server's lost embeddings are reproduced too. A workspace's vector
table is created by its first embedding, and embeddings that start while that one is still running
race with it. The first of those creates the table again, replacing it: both documents are listed
in the workspace, but the vectors the first embedding wrote are gone (a listing cannot tell). Each
later one fails with the server's "Table '<slug>' already exists": its answer is still 200, but its
document is left out of the workspace.

A profile is measured by ``bench/compare/server_costs.py``; ``docs/emulator.md`` says how.
"""

from __future__ import annotations

import asyncio
import enum
import json
import math
from collections import Counter
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["PROFILES", "Cost", "Costs", "LatencyProfile", "RaceOutcome", "ServerTime"]

#: the profiles shipped with the package (``LatencyProfile.named(name)``)
PROFILES = ("real-1.16",)
_CHUNK_CHARACTERS = 1000  # the reference server's embedding chunk length, for counting chunks
_MIB = 1 << 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cost(_Strict):
    """Seconds one unit of work costs the server: ``serial`` (no other request's serial part runs
    meanwhile) and ``parallel`` (overlaps with anything)."""

    serial: float = Field(0.0, ge=0, allow_inf_nan=False)
    parallel: float = Field(0.0, ge=0, allow_inf_nan=False)


class Costs(_Strict):
    """What each kind of work costs (a missing entry costs nothing)."""

    upload: Cost = Cost()
    upload_per_mib: Cost = Cost()
    embed_document: Cost = Field(Cost(), description="per document embedded inside an upload")
    embed_chunk: Cost = Field(Cost(), description="per chunk embedded inside an upload")
    update_embeddings: Cost = Field(Cost(), description="per update-embeddings call")
    update_embeddings_document: Cost = Field(Cost(), description="per document update-embeddings embeds")
    update_embeddings_chunk: Cost = Field(Cost(), description="per chunk update-embeddings embeds")
    list_workspace: Cost = Field(Cost(), description="per GET /v1/workspace/<slug>")
    list_workspace_document: Cost = Field(Cost(), description="per document that listing holds")
    list_documents: Cost = Field(Cost(), description="per GET /v1/documents")
    list_documents_document: Cost = Field(Cost(), description="per document stored on the server")
    chat: Cost = Cost()
    stream_first_token: Cost = Field(Cost(), description="stream-chat, before its first event")
    stream_rest: Cost = Field(Cost(), description="stream-chat, between the first event and the last")
    vector_search: Cost = Cost()


class LatencyProfile(_Strict):
    """A measured server's costs: :class:`Costs`, ``table_race``, and where the numbers came from."""

    name: str
    measured: str = Field("", description="how, when and where the costs were measured")
    costs: Costs
    table_race: bool = Field(
        False,
        description="embeddings that start while a workspace's first one runs race with it: the first "
        "of them replaces its vector table (its vectors are lost), later ones are left out",
    )

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "profile") -> LatencyProfile:
        """A profile from its JSON object (extra top-level keys, such as ``raw``, are ignored).
        Bad input raises a one-line ``ValueError`` naming ``source`` and the fields that are wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: a latency profile is a JSON object, got {type(data).__name__}")
        known = {key: value for key, value in data.items() if key in cls.model_fields}
        try:
            return cls.model_validate(known)
        except ValidationError as exc:
            raise ValueError(f"{source}: {_one_line(exc)}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> LatencyProfile:
        """A profile from a JSON file, as ``bench/compare/server_costs.py --out`` writes it."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read latency profile {str(path)!r}: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"latency profile {str(path)!r} is not JSON: {exc}") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def named(cls, name: str) -> LatencyProfile:
        """A profile shipped with the package, by name (:data:`PROFILES`)."""
        if name not in PROFILES:
            shipped = ", ".join(PROFILES)
            raise ValueError(f"unknown latency profile {name!r} (shipped: {shipped}; or give a .json file)")
        text = resources.files("anythingllm_bridge.testing").joinpath("profiles", f"{name}.json").read_text()
        return cls.from_dict(json.loads(text), source=name)

    @classmethod
    def load(cls, name_or_path: str | Path) -> LatencyProfile:
        """A shipped profile by name, else a JSON file by path."""
        text = str(name_or_path)
        if text in PROFILES or ("/" not in text and not text.endswith(".json") and not Path(text).exists()):
            return cls.named(text)  # a name (an unknown one is refused with the shipped names)
        return cls.from_file(name_or_path)


class RaceOutcome(enum.Enum):
    """What becomes of one embedding under ``table_race``."""

    EMBEDDED = "embedded"
    LOST = "lost"  # "Table already exists": not embedded, the answer is 200 all the same
    OVERWRITES = "overwrites"  # created the table again: embedded, the vectors from before are gone


def _one_line(error: ValidationError) -> str:
    """Each wrong field by its dotted path (``costs.upload.serial: ...``), on one line."""
    described = []
    for detail in error.errors(include_url=False):
        where = ".".join(str(part) for part in detail["loc"])
        if detail["type"] == "extra_forbidden":
            described.append(f"unknown field {where!r}")
        elif detail["type"] == "missing":
            described.append(f"{where}: required")
        else:
            described.append(f"{where}: {detail['msg']}, got {detail.get('input')!r}"[:200])
    return "; ".join(described)


def chunk_count(text: str) -> int:
    """About how many chunks the server makes of ``text`` (at least one)."""
    return max(1, math.ceil(len(text) / _CHUNK_CHARACTERS))


class ServerTime:
    """Spends a profile's costs for one emulator; without a profile every method returns at once
    (without suspending, so handlers behave exactly as if it were not there).

    ``sleep`` is how time is spent (``asyncio.sleep``); tests may replace it to see what is charged
    (``serial_busy`` tells a serial part from a parallel one)."""

    def __init__(self, profile: LatencyProfile | None) -> None:
        self.profile = profile
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._serial: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._creating: Counter[int] = Counter()  # workspace id -> embeddings creating its vector table
        self._overwritten: set[int] = set()  # workspaces whose current race already has its overwriter

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._serial is None or self._loop is not loop:  # an emulator may be served by a new loop
            self._serial, self._loop = asyncio.Lock(), loop
        return self._serial

    @property
    def serial_busy(self) -> bool:
        """Whether some request is spending a serial part now."""
        return self._serial is not None and self._serial.locked()

    async def spend(self, *parts: tuple[Cost, float]) -> None:
        """Spend ``cost * times`` for each ``(cost, times)``: the parallel parts, then the serial ones."""
        if self.profile is None:
            return
        parallel = sum(cost.parallel * times for cost, times in parts)
        serial = sum(cost.serial * times for cost, times in parts)
        if parallel > 0:
            await self.sleep(parallel)
        if serial > 0:
            async with self._lock():
                await self.sleep(serial)

    async def upload(self, size: int) -> None:
        """An upload of ``size`` bytes, before its document is embedded anywhere."""
        if self.profile is not None:
            costs = self.profile.costs
            await self.spend((costs.upload, 1), (costs.upload_per_mib, size / _MIB))

    async def embedding(self, workspace_id: int, vectors: int, text: str, *, in_upload: bool) -> RaceOutcome:
        """Spend one document's embedding into a workspace that holds ``vectors`` vectors; what
        becomes of it when it races to create the workspace's vector table (``table_race``)."""
        if self.profile is None:
            return RaceOutcome.EMBEDDED
        costs = self.profile.costs
        document, chunk = (
            (costs.embed_document, costs.embed_chunk)
            if in_upload
            else (costs.update_embeddings_document, costs.update_embeddings_chunk)
        )
        creating = vectors == 0
        outcome = RaceOutcome.EMBEDDED
        if creating and self.profile.table_race and self._creating[workspace_id] > 0:
            outcome = RaceOutcome.LOST if workspace_id in self._overwritten else RaceOutcome.OVERWRITES
            self._overwritten.add(workspace_id)
        if creating:
            self._creating[workspace_id] += 1
        try:
            await self.spend((document, 1), (chunk, chunk_count(text)))
        finally:
            if creating:
                self._creating[workspace_id] -= 1
                if self._creating[workspace_id] <= 0:
                    del self._creating[workspace_id]
                    self._overwritten.discard(workspace_id)
        return outcome

    async def update_embeddings(self) -> None:
        """One update-embeddings call, apart from the documents it embeds."""
        if self.profile is not None:
            await self.spend((self.profile.costs.update_embeddings, 1))

    async def listing(self, documents: int, *, workspace: bool) -> None:
        """A workspace listing (``workspace``) or ``GET /v1/documents``, of ``documents`` documents."""
        if self.profile is not None:
            costs = self.profile.costs
            call, each = (
                (costs.list_workspace, costs.list_workspace_document)
                if workspace
                else (costs.list_documents, costs.list_documents_document)
            )
            await self.spend((call, 1), (each, documents))

    async def answer(self, kind: str) -> None:
        """``chat``, ``vector_search``, ``stream_first_token`` or ``stream_rest``."""
        if self.profile is not None:
            cost = getattr(self.profile.costs, kind)
            await self.spend((cost, 1))
