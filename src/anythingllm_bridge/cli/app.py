"""``allm``: the AnythingLLM developer API from the terminal.

Every command is a plain (sync) function that runs one coroutine with :func:`run` — typer would
silently skip an ``async def`` command. Expected failures print one line on stderr and exit 1;
``--verbose`` shows the logs (with trace ids) and the traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from anythingllm_bridge.cli._errors import CliError, describe
from anythingllm_bridge.cli._render import ChatModeOption, answer, dump, print_health, print_report, snippet
from anythingllm_bridge.errors import AnythingLLMBridgeError

if TYPE_CHECKING:
    from anythingllm_bridge.client import AnythingLLMClient
    from anythingllm_bridge.config import Settings
    from anythingllm_bridge.ingest import SyncReport
    from anythingllm_bridge.validation import FileValidator

__all__ = ["app", "main"]

T = TypeVar("T")

app = typer.Typer(
    name="allm",
    help="Talk to AnythingLLM's developer API: workspaces, documents, sync, search and chat.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
workspaces_app = typer.Typer(help="List, show, create, update and delete workspaces.", no_args_is_help=True)
docs_app = typer.Typer(help="List, upload and remove documents.", no_args_is_help=True)
threads_app = typer.Typer(help="Create, list, read and delete threads.", no_args_is_help=True)
app.add_typer(workspaces_app, name="workspaces")
app.add_typer(docs_app, name="docs")
app.add_typer(threads_app, name="threads")

out = Console(highlight=False, soft_wrap=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


# --------------------------------------------------------------------------- shared state


@dataclass
class State:
    url: str | None = None
    api_key: str | None = None
    verbose: bool = False
    _settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.url, self.api_key)
        return self._settings


STATE = State()


def load_settings(url: str | None, api_key: str | None) -> Settings:
    """Settings from the environment / ``.env``, with ``--url`` / ``--api-key`` on top."""
    from pydantic import SecretStr, ValidationError

    from anythingllm_bridge.config import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem.get("loc", ())) or "settings"
        raise CliError(f"invalid setting {where.upper()}: {problem.get('msg')}") from None
    updates: dict[str, Any] = {}
    if url is not None:
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise CliError(f"--url must start with http:// or https://, got {url!r}")
        updates["anythingllm_url"] = url
    if api_key is not None:
        updates["anythingllm_api_key"] = SecretStr(api_key)
    return settings.model_copy(update=updates) if updates else settings


def make_client(settings: Settings, **overrides: Any) -> AnythingLLMClient:
    from anythingllm_bridge.client import create_anythingllm_client

    return create_anythingllm_client(settings, **overrides)


def run(work: Callable[[], Awaitable[T]], *, interrupted: str = "interrupted") -> T:
    """Run one coroutine; turn expected failures into one line on stderr and exit code 1."""
    import asyncio  # here, not at the top: `allm --help` runs no coroutine (bench/startup.py)

    try:
        return asyncio.run(_as_coroutine(work))
    except KeyboardInterrupt:
        fail(interrupted, code=130)
    except CliError as exc:
        fail(exc.message, code=exc.code)
    except (AnythingLLMBridgeError, ValueError) as exc:
        if STATE.verbose:
            import logging

            logging.getLogger("anythingllm_bridge.cli").exception("command failed")
        settings = STATE._settings
        url = settings.anythingllm_url if settings else "the server"
        key_set = bool(settings and settings.anythingllm_api_key)
        fail(describe(exc, url=url, key_set=key_set))


async def _as_coroutine(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


def run_with_client(conf: Settings, call: Callable[[AnythingLLMClient], Awaitable[T]]) -> T:
    """:func:`run` ``call`` with a client on ``conf``, opened before and closed after."""

    async def work() -> T:
        async with make_client(conf) as client:
            return await call(client)

    return run(work)


def fail(message: str, *, code: int = 1) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    raise typer.Exit(code)


def emit_json(data: Any) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def setup_logging(verbose: bool) -> None:
    import logging

    from anythingllm_bridge.tracing import TraceIdFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(TraceIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s [trace %(trace_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    # without --verbose, expected failures are reported by the command in one line: the library
    # logs only errors
    logging.getLogger("anythingllm_bridge").setLevel(logging.DEBUG if verbose else logging.ERROR)


@app.callback()
def _options(
    url: Annotated[
        str | None,
        typer.Option("--url", help="AnythingLLM server (default: $ANYTHINGLLM_URL).", show_default=False),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", help="Developer API key (default: $ANYTHINGLLM_API_KEY).", show_default=False
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show logs with trace ids.")] = False,
) -> None:
    STATE.url, STATE.api_key, STATE.verbose, STATE._settings = url, api_key, verbose, None
    setup_logging(verbose)


def settings() -> Settings:
    try:
        return STATE.settings()
    except CliError as exc:
        fail(exc.message, code=exc.code)
        raise  # unreachable: fail raises


# --------------------------------------------------------------------------- health


@app.command()
def health(as_json: JsonOption = False) -> None:
    """Is the server reachable, is the API key accepted, what state is the circuit breaker in?"""
    conf = settings()

    async def work() -> Any:
        return await make_client(conf).health_check()

    status = run(work)
    if as_json:
        emit_json(dump(status))
    else:
        print_health(out, status)
    if not status.ok:
        fail(status.reason or "the server is not healthy")


# --------------------------------------------------------------------------- workspaces


@workspaces_app.command("list")
def workspaces_list(as_json: JsonOption = False) -> None:
    """Every workspace with its slug, chat mode and number of threads."""
    conf = settings()
    items = run_with_client(conf, lambda client: client.list_workspaces())
    if as_json:
        emit_json(dump(items))
        return
    if not items:
        out.print("no workspaces (create one with: allm workspaces create NAME)")
        return
    table = Table("slug", "name", "mode", "threads", box=None, pad_edge=False)
    for ws in items:
        table.add_row(escape(ws.slug), escape(ws.name or ""), ws.chat_mode or "", str(len(ws.threads)))
    out.print(table)


@workspaces_app.command("show")
def workspaces_show(
    slug: Annotated[str, typer.Argument(help="Workspace slug.")], as_json: JsonOption = False
) -> None:
    """One workspace: its settings, documents and threads."""
    conf = settings()
    ws = run_with_client(conf, lambda client: client.get_workspace(slug))
    if as_json:
        emit_json(dump(ws))
        return
    out.print(f"[bold]{escape(ws.name or ws.slug)}[/] (slug {escape(ws.slug)})")
    out.print(f"chat mode {ws.chat_mode}, top {ws.top_n}, similarity threshold {ws.similarity_threshold}")
    out.print(f"documents ({len(ws.documents)}):")
    for doc in ws.documents:
        title = doc.metadata.get("title") if isinstance(doc.metadata, dict) else None
        out.print(f"  {escape(doc.docpath)}" + (f"  [dim]{escape(str(title))}[/]" if title else ""))
    out.print(f"threads ({len(ws.threads)}):")
    for thread in ws.threads:
        out.print(f"  {escape(thread.slug)}" + (f"  {escape(thread.name)}" if thread.name else ""))


# WorkspaceSettings keyword -> the CLI option that sets it, where the two differ
_OPTION_LABELS = {"open_ai_prompt": "prompt", "open_ai_temp": "temperature"}


def _settings_args(
    mode: str | None,
    prompt: str | None,
    temperature: float | None,
    top_n: int | None,
    threshold: float | None,
) -> dict[str, Any]:
    values = {
        "chat_mode": mode,
        "open_ai_prompt": prompt,
        "open_ai_temp": temperature,
        "top_n": top_n,
        "similarity_threshold": threshold,
    }
    return {k: v for k, v in values.items() if v is not None}


ModeOption = Annotated[
    ChatModeOption | None,
    typer.Option("--mode", help="Chat mode: chat, query or automatic.", show_default=False),
]
PromptOption = Annotated[str | None, typer.Option("--prompt", help="System prompt.", show_default=False)]
TemperatureOption = Annotated[float | None, typer.Option("--temperature", min=0, show_default=False)]
TopNOption = Annotated[
    int | None, typer.Option("--top-n", min=1, help="Chunks given to the LLM.", show_default=False)
]
ThresholdOption = Annotated[
    float | None, typer.Option("--similarity-threshold", min=0, max=1, help="0..1", show_default=False)
]


@workspaces_app.command("create")
def workspaces_create(
    name: Annotated[str, typer.Argument(help="Workspace name (the server derives the slug).")],
    mode: ModeOption = None,
    prompt: PromptOption = None,
    temperature: TemperatureOption = None,
    top_n: TopNOption = None,
    similarity_threshold: ThresholdOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a workspace and print its slug."""
    conf = settings()
    options = _settings_args(mode, prompt, temperature, top_n, similarity_threshold)

    ws = run_with_client(conf, lambda client: client.create_workspace(name, **options)).workspace
    if as_json:
        emit_json(dump(ws))
    else:
        out.print(f"created workspace {escape(ws.name or name)!s} (slug: {escape(ws.slug)})")


@workspaces_app.command("update")
def workspaces_update(
    slug: Annotated[str, typer.Argument(help="Workspace slug.")],
    name: Annotated[
        str | None, typer.Option("--name", help="New name (the slug stays).", show_default=False)
    ] = None,
    mode: ModeOption = None,
    prompt: PromptOption = None,
    temperature: TemperatureOption = None,
    top_n: TopNOption = None,
    similarity_threshold: ThresholdOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a workspace's settings."""
    conf = settings()
    options = _settings_args(mode, prompt, temperature, top_n, similarity_threshold)
    if name is not None:
        options["name"] = name
    if not options:
        fail("nothing to update: pass at least one of --name, --mode, --prompt, --temperature, --top-n, ...")

    async def work(client: AnythingLLMClient) -> Any:
        await client.get_workspace(slug)  # a clear "does not exist" before the update
        return await client.update_workspace(slug, **options)

    ws = run_with_client(conf, work).workspace
    if as_json:
        emit_json(dump(ws))
    else:
        out.print(
            f"updated workspace {escape(ws.slug)}: "
            + ", ".join(f"{_OPTION_LABELS.get(k, k)}={v}" for k, v in options.items())
        )


@workspaces_app.command("delete")
def workspaces_delete(
    slug: Annotated[str, typer.Argument(help="Workspace slug.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a workspace with its chats and embeddings (the documents stay on the server)."""
    conf = settings()
    if not yes:
        if not sys.stdin.isatty():
            fail(f"refusing to delete workspace {slug!r} without confirmation: pass --yes")
        typer.confirm(f"Delete workspace {slug!r} with its chats and embeddings?", abort=True)

    async def work(client: AnythingLLMClient) -> None:
        await client.get_workspace(slug)
        await client.delete_workspace(slug)

    run_with_client(conf, work)
    out.print(f"deleted workspace {escape(slug)}")


# --------------------------------------------------------------------------- documents


@docs_app.command("list")
def docs_list(
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", "-w", help="Only the documents of this workspace.", show_default=False),
    ] = None,
    folder: Annotated[
        str | None, typer.Option("--folder", help="Only this folder.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Documents on the server (or in one workspace), with their locations."""
    conf = settings()

    async def work(client: AnythingLLMClient) -> list[dict[str, Any]]:
        if workspace is not None:
            docs = await client.list_workspace_documents(workspace)
            rows = []
            for doc in docs:
                meta = doc.metadata if isinstance(doc.metadata, dict) else {}
                rows.append(
                    {"location": doc.docpath, "title": meta.get("title"), "words": meta.get("wordCount")}
                )
            return rows
        found = await client.list_documents(folder=folder)
        return [{"location": d.location, "title": d.title, "words": d.word_count} for d in found]

    rows = run_with_client(conf, work)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        out.print("no documents")
        return
    table = Table("location", "title", "words", box=None, pad_edge=False)
    for row in rows:
        table.add_row(escape(str(row["location"])), escape(str(row["title"] or "")), str(row["words"] or ""))
    out.print(table)


TypesOption = Annotated[
    str | None,
    typer.Option(
        "--types",
        help="Accepted file types, comma-separated (default: $ALLOWED_FILE_TYPES, else pdf,json,csv).",
        show_default=False,
    ),
]


def make_validator(conf: Settings, types: str | None) -> FileValidator:
    from anythingllm_bridge.validation import FileValidator

    if types is not None:
        conf = conf.model_copy(
            update={
                "allowed_file_types": [t.strip().lower().lstrip(".") for t in types.split(",") if t.strip()]
            }
        )
    return FileValidator.create_from_settings(conf)


@docs_app.command("upload")
def docs_upload(
    files: Annotated[list[Path], typer.Argument(help="Files to upload.", show_default=False)],
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="Embed into this workspace.", show_default=False)
    ] = None,
    folder: Annotated[str | None, typer.Option("--folder", help="Server folder.", show_default=False)] = None,
    types: TypesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate and upload files (and embed them into a workspace, checked)."""
    conf = settings()
    validator = make_validator(conf, types)
    for path in files:
        if not path.exists():
            fail(f"{path} does not exist")

    async def work(client: AnythingLLMClient) -> list[dict[str, Any]]:
        import asyncio

        results: list[dict[str, Any]] = []
        if workspace is not None:
            await client.get_workspace(workspace)
        for path in files:
            valid, reason = await asyncio.to_thread(validator.validate_file, path)
            if not valid:
                results.append({"file": str(path), "status": "rejected", "reason": reason})
                continue
            result = await client.upload_file(
                path, workspaces=[workspace] if workspace else None, folder=folder
            )
            status = "uploaded" if result.embedded else "not embedded"
            results.append({"file": str(path), "status": status, "location": result.location})
        return results

    results = run_with_client(conf, work)
    if as_json:
        emit_json(results)
    else:
        for item in results:
            if item["status"] == "rejected":
                out.print(f"rejected  {escape(item['file'])}: {escape(str(item['reason']))}")
            else:
                where = f" into {workspace}" if workspace and item["status"] == "uploaded" else ""
                out.print(f"{item['status']:<9} {escape(item['file'])} -> {escape(item['location'])}{where}")
    if any(item["status"] != "uploaded" for item in results):
        raise typer.Exit(1)


@docs_app.command("remove")
def docs_remove(
    locations: Annotated[
        list[str], typer.Argument(help="Document locations (folder/name.json).", show_default=False)
    ],
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", "-w", help="Only take them out of this workspace.", show_default=False),
    ] = None,
) -> None:
    """Delete documents from the server (or, with --workspace, only from that workspace)."""
    conf = settings()

    async def work(client: AnythingLLMClient) -> None:
        if workspace is not None:
            update = await client.update_embeddings(workspace, deletes=locations)
            if update.not_removed:
                raise CliError(f"still in workspace {workspace!r}: {', '.join(update.not_removed)}")
        else:
            await client.delete_documents_from_server(locations)

    run_with_client(conf, work)
    where = f"workspace {workspace}" if workspace else "the server"
    for location in locations:
        out.print(f"removed {escape(location)} from {escape(where)}")


# --------------------------------------------------------------------------- sync


def manifest_name(conf: Settings, source: str, workspace: str) -> str:
    """``<workspace>-<hash>.json``: one manifest per (server, workspace, source)."""
    import hashlib

    digest = hashlib.sha256(f"{conf.anythingllm_url}\0{workspace}\0{source}".encode()).hexdigest()[:12]
    return f"{workspace}-{digest}.json"


def default_manifest(conf: Settings, source: str, workspace: str) -> Path:
    """``$XDG_STATE_HOME/anythingllm-bridge/manifests/<workspace>-<hash>.json``: one per
    (server, workspace, source), outside the synced folder."""
    if conf.manifest_path is not None:
        return conf.manifest_path
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "anythingllm-bridge" / "manifests" / manifest_name(conf, source, workspace)


@app.command()
def sync(
    source: Annotated[str, typer.Argument(help="A folder, or s3://bucket/prefix.", show_default=False)],
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="Workspace slug.", show_default=False)],
    prune: Annotated[bool, typer.Option("--prune", help="Remove documents whose file is gone.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; send nothing.")] = False,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", "-c", min=1, help="Files at once (default 4).", show_default=False),
    ] = None,
    manifest: Annotated[
        Path | None, typer.Option("--manifest", help="Manifest file (default: per source in the state dir).")
    ] = None,
    max_passes: Annotated[
        int | None,
        typer.Option(
            "--max-passes",
            min=1,
            help="Passes over files that failed transiently before they count as failed (default 10).",
            show_default=False,
        ),
    ] = None,
    max_wait: Annotated[
        float | None,
        typer.Option(
            "--max-wait",
            min=0,
            help="Seconds to wait, in all, for an open circuit breaker (default 300).",
            show_default=False,
        ),
    ] = None,
    archive: Annotated[
        bool,
        typer.Option("--archive", help="Copy each sent file to the configured storage under processed/."),
    ] = False,
    types: TypesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a workspace hold exactly the valid files of a folder or bucket prefix.

    A second run sends nothing unchanged; changed files replace their old version.
    """
    conf = settings()
    validator = make_validator(conf, types)
    workers = concurrency or conf.ingest_concurrency
    is_s3 = source.startswith("s3://")
    folder = Path(source).expanduser().resolve()
    if not is_s3 and not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        fail(f"source folder {source} {what}")

    async def work() -> SyncReport:
        from anythingllm_bridge.ingest import (
            FileManifestStore,
            FolderSource,
            StorageManifestStore,
            make_progress,
        )
        from anythingllm_bridge.ingest import sync as run_sync

        storage = None
        if is_s3:
            from anythingllm_bridge.ingest import StorageSource
            from anythingllm_bridge.storage import StorageFactory

            bucket, _, prefix = source[len("s3://") :].partition("/")
            if not bucket:
                raise CliError(f"{source!r} names no bucket: use s3://bucket/prefix")
            storage = StorageFactory.create_storage_client(
                conf.model_copy(update={"storage_type": "s3", "s3_bucket": bucket})
            )
            src: Any = StorageSource(storage, prefix, description=source)
            name = manifest_name(conf, source, workspace)
            store: Any = (
                FileManifestStore(manifest)
                if manifest
                else StorageManifestStore(storage, f".anythingllm-bridge/manifests/{name}")
            )
        else:
            manifest_path = (manifest or default_manifest(conf, str(folder), workspace)).resolve()
            src = FolderSource(folder, exclude=[manifest_path])
            store = FileManifestStore(manifest_path)
        archive_to = None
        if archive:
            from anythingllm_bridge.storage import StorageFactory

            archive_to = StorageFactory.create_storage_client(conf)
        client = make_client(
            conf,
            max_concurrency=max(conf.max_concurrency, workers + 2),
            max_connections_per_host=max(conf.max_connections_per_host, workers + 2),
        )
        try:
            async with client:
                return await run_sync(
                    client,
                    src,
                    store,
                    workspace=workspace,
                    validator=validator,
                    prune=prune,
                    dry_run=dry_run,
                    concurrency=workers,
                    max_passes=max_passes or conf.ingest_max_passes,
                    max_wait=conf.ingest_max_wait if max_wait is None else max_wait,
                    archive=archive_to,
                    progress=make_progress(quiet=as_json),
                )
        finally:
            if storage is not None:
                await storage.close()
            if archive_to is not None:
                await archive_to.close()

    report = run(work, interrupted="interrupted; the manifest is saved: run the same command again to resume")
    if as_json:
        emit_json(report.to_json())
    else:
        print_report(out, report)
    if report.failed:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- search and chat


@app.command()
def search(
    slug: Annotated[str, typer.Argument(help="Workspace slug.")],
    query: Annotated[str, typer.Argument(help="What to look for.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Results at most.")] = 5,
    threshold: Annotated[
        float | None, typer.Option("--threshold", min=0, max=1, help="Minimum score.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Vector search in a workspace, without the LLM."""
    conf = settings()
    results = run_with_client(
        conf, lambda client: client.search_workspace(slug, query, limit=limit, score_threshold=threshold)
    )
    if as_json:
        emit_json(dump(results))
        return
    if not results:
        out.print("no matches")
        return
    for n, hit in enumerate(results, start=1):
        score = f"{hit.score:.3f}" if hit.score is not None else "-"
        out.print(f"{n}. [bold]{escape(hit.title or '?')}[/] (score {score})")
        out.print(f"   {escape(snippet(hit.text))}")


@app.command()
def ask(
    slug: Annotated[str, typer.Argument(help="Workspace slug.")],
    question: Annotated[str, typer.Argument(help="Your question.")],
    mode: Annotated[
        ChatModeOption | None,
        typer.Option("--mode", help="query: only from documents; chat: free.", show_default=False),
    ] = None,
    thread: Annotated[
        str | None, typer.Option("--thread", help="Ask inside this thread.", show_default=False)
    ] = None,
    session: Annotated[
        str | None,
        typer.Option("--session", help="Keep a separate history under this id.", show_default=False),
    ] = None,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Wait for the whole answer.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Ask a workspace; the answer streams as it is written, then its sources are listed."""
    conf = settings()
    if thread is not None and session is not None:
        fail("--session does not apply to threads (a thread keeps its own history): use one or the other")

    async def work(client: AnythingLLMClient) -> dict[str, Any]:
        return await answer(
            client,
            slug,
            question,
            mode=mode,
            thread=thread,
            session=session,
            stream=not (no_stream or as_json),
            printer=None if as_json else out,
        )

    result = run_with_client(conf, work)
    if as_json:
        emit_json(result)


# --------------------------------------------------------------------------- threads


@threads_app.command("new")
def threads_new(
    slug: Annotated[str, typer.Argument(help="Workspace slug.")],
    name: Annotated[str | None, typer.Option("--name", help="Thread name.", show_default=False)] = None,
    thread_slug: Annotated[
        str | None, typer.Option("--slug", help="Thread slug (default: a UUID).", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Start a thread in a workspace and print its slug."""
    conf = settings()
    thread = run_with_client(
        conf, lambda client: client.create_thread(slug, name, thread_slug=thread_slug)
    ).thread
    if as_json:
        emit_json(dump(thread))
    else:
        out.print(f"created thread {escape(thread.name or '')} (slug: {escape(thread.slug)})")


@threads_app.command("list")
def threads_list(
    slug: Annotated[str, typer.Argument(help="Workspace slug.")], as_json: JsonOption = False
) -> None:
    """The threads of a workspace."""
    conf = settings()
    threads = run_with_client(conf, lambda client: client.list_threads(slug))
    if as_json:
        emit_json(dump(threads))
        return
    if not threads:
        out.print("no threads")
    for thread in threads:
        out.print(f"{escape(thread.slug)}  {escape(thread.name or '')}")


@threads_app.command("history")
def threads_history(
    slug: Annotated[str, typer.Argument(help="Workspace slug.")],
    thread: Annotated[str, typer.Argument(help="Thread slug.")],
    as_json: JsonOption = False,
) -> None:
    """Every turn of a thread, oldest first."""
    conf = settings()
    turns = run_with_client(conf, lambda client: client.get_thread_history(slug, thread))
    if as_json:
        emit_json(dump(turns))
        return
    if not turns:
        out.print("no messages")
    for turn in turns:
        out.print(f"[bold]{turn.role}[/]: {escape(turn.content or '')}")


@threads_app.command("delete")
def threads_delete(
    slug: Annotated[str, typer.Argument(help="Workspace slug.")],
    thread: Annotated[str, typer.Argument(help="Thread slug.")],
) -> None:
    """Delete a thread and its messages."""
    conf = settings()

    async def work(client: AnythingLLMClient) -> None:
        threads = await client.list_threads(slug)
        if thread not in {t.slug for t in threads}:
            raise CliError(
                f"thread {thread!r} does not exist in workspace {slug!r} (see: allm threads list {slug})"
            )
        await client.delete_thread(slug, thread)

    run_with_client(conf, work)
    out.print(f"deleted thread {escape(thread)}")


# --------------------------------------------------------------------------- emulator and demo


@app.command()
def emulator(
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="0 = any free port.")] = 3001,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    api_key: Annotated[
        str | None,
        typer.Option("--key", help="API key to accept (default: a random one).", show_default=False),
    ] = None,
) -> None:
    """Run the built-in AnythingLLM emulator until Ctrl-C."""
    import asyncio
    import secrets

    key = api_key or f"EMU-{secrets.token_hex(8).upper()}"

    async def work() -> None:
        from anythingllm_bridge.testing import run_emulator

        async with run_emulator(api_key=key, host=host, port=port) as running:
            out.print(f"AnythingLLM emulator listening on {running.url}")
            out.print(f"  export ANYTHINGLLM_URL={running.url}")
            out.print(f"  export ANYTHINGLLM_API_KEY={key}")
            out.print("press Ctrl-C to stop")
            sys.stdout.flush()
            await asyncio.Event().wait()

    try:
        asyncio.run(work())
    except KeyboardInterrupt:  # Ctrl-C is how this command ends
        out.print("emulator stopped")
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


@app.command()
def demo(
    real: Annotated[
        bool, typer.Option("--real", help="Run against ANYTHINGLLM_URL / ANYTHINGLLM_API_KEY instead.")
    ] = False,
    keep: Annotated[
        bool, typer.Option("--keep", help="With --real: keep the demo workspace and documents.")
    ] = False,
) -> None:
    """Emulator, workspace, sync (twice), search, a streamed answer, breaker state — in one go."""
    from anythingllm_bridge.cli.demo import run_demo

    conf = settings() if real else None
    if real and conf is not None and conf.anythingllm_api_key is None:
        fail("--real needs ANYTHINGLLM_URL and ANYTHINGLLM_API_KEY (or --url and --api-key)")
    run(lambda: run_demo(out, settings=conf, keep=keep))


def main() -> None:
    """Console-script entry point (``allm``)."""
    app(prog_name="allm")


if __name__ == "__main__":  # pragma: no cover
    main()
