"""Fault injection for the emulator: make it fail the way a real server and network do.

Error statuses with ``Retry-After``, latency, connections dropped before or after the headers, event
streams cut after K events, a whole-API outage, and uploads that answer 200 but leave the document out
of the workspace; plus a log of every request. Set from Python through :class:`FaultInjector`
(``Emulator.faults``) or over HTTP under ``/_emulator/``; ``docs/faults.md`` has the details.

The parts, one idea each:

* :mod:`.rules`: :class:`Fault`, the description of one fault rule, and the engine matching requests;
* :mod:`.embedding_loss`: :class:`EmbeddingLoss`, AnythingLLM's uploads that never reach a workspace;
* :mod:`.request_log`: :class:`RecordedRequest` and the bounded log;
* :mod:`.drops`: closing a connection with no answer, half an answer or a cut stream;
* :mod:`.injector`: :class:`FaultInjector`, the middleware applying the above, and :class:`Outage`;
* :mod:`.control_api`: the ``/_emulator/`` endpoints.
"""

from __future__ import annotations

from anythingllm_bridge.testing.faults.control_api import CONTROL_PREFIX, ControlApi
from anythingllm_bridge.testing.faults.drops import CUT_STREAM_AFTER, ConnectionDropped, drop_connection
from anythingllm_bridge.testing.faults.embedding_loss import EmbeddingLoss
from anythingllm_bridge.testing.faults.injector import FaultInjector, Outage
from anythingllm_bridge.testing.faults.request_log import RecordedRequest
from anythingllm_bridge.testing.faults.rules import DropKind, Fault

__all__ = [
    "CONTROL_PREFIX",
    "CUT_STREAM_AFTER",
    "ConnectionDropped",
    "ControlApi",
    "DropKind",
    "EmbeddingLoss",
    "Fault",
    "FaultInjector",
    "Outage",
    "RecordedRequest",
    "drop_connection",
]
