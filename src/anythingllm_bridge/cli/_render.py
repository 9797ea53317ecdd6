"""What the commands print: health, sync reports, streamed answers with their sources."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from rich.markup import escape

if TYPE_CHECKING:
    from rich.console import Console

    from anythingllm_bridge.client import AnythingLLMClient
    from anythingllm_bridge.client.models import BreakerInfo, HealthStatus, Source
    from anythingllm_bridge.ingest import SyncReport

__all__ = [
    "ChatModeOption",
    "answer",
    "breaker_text",
    "dump",
    "print_health",
    "print_report",
    "print_sources",
]

ChatModeOption = Literal["chat", "query", "automatic"]


_METADATA = re.compile(r"<document_metadata>.*?</document_metadata>", re.DOTALL)


def snippet(text: str | None, width: int = 160) -> str:
    """A chunk's text on one line, without the metadata header AnythingLLM prepends to chunks."""
    flat = " ".join(_METADATA.sub(" ", text or "").split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def dump(model: Any) -> Any:
    """A pydantic model (or a list of them) as plain JSON data, with the server's field names."""
    if isinstance(model, list):
        return [dump(item) for item in model]
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def print_health(out: Console, status: HealthStatus, indent: str = "", *, key_set: bool = True) -> None:
    """The three truths (reachable, answering, key accepted), the breaker and what is wrong."""
    latency = f" ({status.latency_ms:.1f} ms)" if status.latency_ms is not None else ""
    if status.authenticated is None:
        key = "not checked" if key_set else "not set"
    else:
        key = "accepted" if status.authenticated else "not accepted"
    out.print(f"{indent}server    {escape(status.base_url)}")
    out.print(f"{indent}reachable {'yes' + latency if status.reachable else 'no'}")
    answering = "not an AnythingLLM" if status.not_anythingllm else "no"
    out.print(f"{indent}answering {'yes (AnythingLLM is online)' if status.answering else answering}")
    out.print(f"{indent}api key   {key}")
    if status.breaker is not None:
        out.print(f"{indent}breaker   {breaker_text(status.breaker)}")
    if status.reason:
        out.print(f"{indent}reason    {escape(status.reason)}")


def breaker_text(breaker: BreakerInfo) -> str:
    """The breaker on one line: its state, its consecutive failures and when it next lets a call
    through (``open (5 consecutive failure(s)), next probe in 42.0 s``)."""
    text = f"{breaker.state} ({breaker.failure_count} consecutive failure(s))"
    if breaker.retry_in:
        text += f", next probe in {breaker.retry_in:.1f} s"
    return text


def print_report(out: Console, report: SyncReport, indent: str = "") -> None:
    """The sync report as text: counts per outcome, the files rejected or failed and why."""
    from anythingllm_bridge.ingest.report import Status, display_key  # loaded: report is a SyncReport

    title = "plan (dry run, nothing sent)" if report.dry_run else "sync"
    shard = f" (shard {report.shard})" if report.shard else ""
    source = escape(display_key(report.source))
    out.print(f"{indent}{title}: {source}{shard} -> workspace {escape(report.workspace)}")
    counts = report.counts()
    verbs = (
        {"uploaded": "to upload", "replaced": "to replace", "removed": "to remove"} if report.dry_run else {}
    )
    for status in Status:
        keys = [display_key(key) for key in report.keys(status)]
        label = verbs.get(status.value, status.value)
        listed = ""
        if keys and status in (Status.UPLOADED, Status.REPLACED, Status.REMOVED):
            listed = "  " + ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        out.print(f"{indent}  {label:<10} {counts[status.value]:>5}{escape(listed)}")
        if status in (Status.REJECTED, Status.FAILED):
            for key in report.keys(status):
                detail = report.outcomes[key].detail
                out.print(f"{indent}      {escape(display_key(key))}: {escape(display_key(detail))}")
    if report.gone:
        out.print(
            f"{indent}  {len(report.gone)} file(s) left the source; their documents stay (--prune removes)"
        )
    if report.legacy_kept:
        out.print(
            f"{indent}  {report.legacy_kept} document(s) synced by an older anythingllm-bridge match no file "
            "this sync sends; left alone"
        )
    if report.stopped:
        out.print(f"{indent}  stopped    {escape(display_key(report.stopped))}")
    for warning in report.warnings:
        out.print(f"{indent}  warning    {escape(display_key(warning))}")
    out.print(f"{indent}  source id  {escape(display_key(report.source_id))}")
    out.print(f"{indent}  cache      {escape(display_key(report.manifest))}")
    passes = (
        f" in {report.passes} passes (files that failed transiently were tried again)"
        if report.passes > 1
        else ""
    )
    out.print(f"{indent}  done in {report.elapsed:.2f} s{passes}")


async def answer(
    client: AnythingLLMClient,
    slug: str,
    question: str,
    *,
    mode: ChatModeOption | None = None,
    thread: str | None = None,
    session: str | None = None,
    stream: bool = True,
    printer: Console | None = None,
    indent: str = "",
) -> dict[str, Any]:
    """Ask; print the answer (as it streams in) and then its sources; return both as JSON data."""
    if stream:
        events = (
            await client.send_message(slug, thread, question, mode=mode, stream=True)
            if thread
            else await client.chat(slug, question, mode=mode, session_id=session, stream=True)
        )
        written = False
        try:
            async with events:
                async for event in events:
                    if (
                        printer is not None
                        and event.type in ("textResponseChunk", "textResponse")
                        and event.text_response
                    ):
                        printer.file.write(event.text_response)
                        printer.file.flush()
                        written = True
        except BaseException:  # a cut stream, Ctrl-C: the error line goes below the partial answer
            if printer is not None and written:
                printer.file.write("\n")
                printer.file.flush()
            raise
        text, sources, chat_id = events.text_response, events.sources, events.chat_id
        if printer is not None:
            printer.file.write("\n")
    else:
        reply = (
            await client.send_message(slug, thread, question, mode=mode)
            if thread
            else await client.chat(slug, question, mode=mode, session_id=session)
        )
        text, sources, chat_id = reply.text_response or "", reply.sources, reply.chat_id
        if printer is not None:
            printer.print(escape(text))
    if printer is not None:
        print_sources(printer, sources, indent=indent)
    return {"text": text, "sources": dump(list(sources)), "chat_id": chat_id}


def print_sources(out: Console, sources: list[Source], indent: str = "") -> None:
    """An answer's sources, numbered, each with its title (or URL) and score; ``(no sources)``
    when the answer used none."""
    if not sources:
        out.print(f"{indent}(no sources)")
        return
    out.print(f"{indent}sources:")
    for n, source in enumerate(sources, start=1):
        score = f" (score {source.score:.3f})" if source.score is not None else ""
        out.print(f"{indent}  [{n}] {escape(source.title or source.url or '?')}{score}")
