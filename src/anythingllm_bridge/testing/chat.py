"""The chat pipeline of the server's API chat handler, with a deterministic stand-in for the LLM.

Order as in the server: reset (and stop if there is no message) → query mode on an empty workspace
refuses → history of the conversation (workspace + thread or API session, ``openAiHistory`` chats) →
pinned documents as whole-text context → vector search (``topN``, similarity threshold) → backfill of
the context window from sources of recent answers → query mode with no context refuses → answer.
Refusals are stored as excluded chats (they take a chat id but are not history).

The answer is what the stub model the transcripts were recorded with says, built from the context:
``STUB ANSWER to "<message>" | N context chunk(s); first says: "<first 160 characters of the first
chunk, whitespace collapsed>" | history messages: K``, or without context
``STUB ANSWER to "<message>" | 0 context chunk(s) | history messages: K``. A stream sends it word by
word.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from anythingllm_bridge.testing.retrieval import source_identifier
from anythingllm_bridge.testing.state import Chat, Store, Thread, Workspace, iso, now
from anythingllm_bridge.testing.tokens import estimate_tokens

__all__ = [
    "MODEL",
    "PROVIDER",
    "REFUSAL",
    "Answer",
    "answer",
    "compose",
    "stream_tokens",
]

MODEL = "stub-model"
PROVIDER = "GenericOpenAiLLM"
REFUSAL = "There is no relevant information in this workspace to answer your query."
RESET_TEXT = "Chat history was reset!"
VALID_MODES = ("automatic", "chat", "query")
_PINNED_SUFFIX = "...continued on in source document..."


@dataclass
class Answer:
    """What one chat turn produced. ``kind``: ``answer`` (stored, has ``chat_id``), ``refusal`` (query mode
    with nothing to go on) or ``reset`` (history reset without a message)."""

    kind: Literal["answer", "refusal", "reset"]
    uuid: str
    text: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    chat_id: int | None = None
    early: bool = False  # a refusal before any search (the workspace has no vectors at all)


def compose(message: str, context: list[str], history_messages: int) -> str:
    """The stub model's answer to ``message`` given the context texts and the history length."""
    if not context:
        return f'STUB ANSWER to "{message}" | 0 context chunk(s) | history messages: {history_messages}'
    first = " ".join(context[0].split())[:160]
    return (
        f'STUB ANSWER to "{message}" | {len(context)} context chunk(s); first says: "{first}" '
        f"| history messages: {history_messages}"
    )


def stream_tokens(text: str) -> list[str]:
    """The answer as the stub streams it: the first word, then each following word with its space."""
    words = text.split(" ")
    return [words[0], *(" " + w for w in words[1:])]


def _metrics(prompt_tokens: int, completion_tokens: int, started: float, *, streamed: bool) -> dict[str, Any]:
    """The provider's metrics; a streamed completion reports them in another key order (as recorded)."""
    duration = max(round(time.perf_counter() - started, 3), 0.001)
    tokens = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
    if streamed:
        tokens = {"completion_tokens": completion_tokens, "prompt_tokens": prompt_tokens}
    timing = {"duration": duration, "outputTps": completion_tokens / duration}
    if streamed:
        timing = {"outputTps": completion_tokens / duration, "duration": duration}
    return {
        **tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        **timing,
        "model": MODEL,
        "provider": PROVIDER,
        "timestamp": iso(now()),
    }


def _backfill(
    sources: list[dict[str, Any]], history: list[Chat], n_docs: int, pinned: frozenset[str]
) -> list[str]:
    """The server's ``fillSourceWindow``: top the context up to ``n_docs`` chunks from recent answers."""
    filled = list(sources)
    if len(filled) < n_docs and history:
        seen = {s.get("id") for s in filled}
        for chat in reversed(history):
            for source in chat.response.get("sources", []):
                if len(filled) >= n_docs:
                    break
                if (
                    source_identifier(source) not in pinned
                    and "score" in source
                    and "text" in source
                    and source.get("id") not in seen
                ):
                    filled.append(source)
                    seen.add(source.get("id"))
            if len(filled) >= n_docs:
                break
    return [str(s["text"]) for s in filled]


def answer(
    store: Store,
    workspace: Workspace,
    *,
    message: str | None,
    mode: str,
    thread: Thread | None = None,
    session_id: str | None = None,
    reset: bool = False,
    system_prompt: str | None = None,
    history_override: list[dict[str, Any]] | None = None,
    streamed: bool = False,
) -> Answer:
    """Run one chat turn and store it. ``history_override`` (OpenAI-compatible route) replaces the
    stored history with the caller's messages."""
    started = time.perf_counter()
    uuid = store.new_uuid()
    fields = workspace.fields
    if reset:
        store.reset_history(workspace, thread=thread, session_id=session_id)
        if not message:
            return Answer("reset", uuid, RESET_TEXT)
    text_message = str(message or "")
    refusal = fields.get("queryRefusalResponse") or REFUSAL

    def refuse(*, early: bool) -> Answer:
        store.add_chat(
            workspace,
            prompt=text_message,
            response={"text": refusal, "sources": [], "attachments": [], "type": mode, "metrics": {}},
            thread=thread,
            session_id=session_id,
            include=False,
        )
        return Answer("refusal", uuid, refusal, early=early)

    embeddings = store.namespace_count(workspace)
    if embeddings == 0 and mode == "query":
        return refuse(early=True)

    limit = int(fields.get("openAiHistory") or 20)
    history = store.recent_chats(workspace, thread=thread, session_id=session_id, limit=limit)
    history_messages = len(history_override) if history_override is not None else 2 * len(history)

    context: list[str] = []
    sources: list[dict[str, Any]] = []
    pinned: set[str] = set()
    for document in store.pinned_documents(workspace):
        metadata = document.metadata()
        pinned.add(source_identifier(metadata))
        context.append(document.page_content)
        sources.append({"text": document.page_content[:1000] + _PINNED_SUFFIX, **metadata})

    top_n = int(fields.get("topN") or 4)
    hits = (
        store.search(
            workspace,
            text_message,
            top_n=top_n,
            threshold=float(fields.get("similarityThreshold") or 0.0),
            exclude=frozenset(pinned),
        )
        if embeddings
        else []
    )
    found = [
        {
            "id": hit.vector.id,
            **hit.vector.metadata,
            "text": hit.vector.text,
            "_distance": hit.distance,
            "score": hit.score,
        }
        for hit in hits
    ]
    context += _backfill(found, history if history_override is None else [], top_n, frozenset(pinned))
    sources += found
    if mode == "query" and not context:
        return refuse(early=False)

    text = compose(text_message, context, history_messages)
    prompt = system_prompt if system_prompt is not None else str(fields.get("openAiPrompt") or "")
    if history_override is not None:
        history_text = " ".join(str(m.get("content", "")) for m in history_override)
    else:
        history_text = " ".join(f"{c.prompt} {c.response.get('text', '')}" for c in history)
    prompt_tokens = estimate_tokens(" ".join([prompt, *context, history_text, text_message]))
    metrics = _metrics(prompt_tokens, estimate_tokens(text), started, streamed=streamed)
    chat = store.add_chat(
        workspace,
        prompt=text_message,
        response={"text": text, "sources": sources, "type": mode, "attachments": [], "metrics": metrics},
        thread=thread,
        session_id=session_id,
    )
    return Answer("answer", uuid, text, sources, metrics, chat.id)
