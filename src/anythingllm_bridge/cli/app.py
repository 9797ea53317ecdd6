"""``allm``: the AnythingLLM developer API from the terminal.

Every command is a plain (sync) function that runs one coroutine with :func:`run` — typer would
silently skip an ``async def`` command. Each run's options and settings live in typer's context
(``ctx.obj``, an :class:`~anythingllm_bridge.cli._state.Invocation`). A failure prints one line on
stderr (``error: ...``) and exits 1, a usage error exits 2, Ctrl-C exits 130; ``--verbose`` shows the
logs (with trace ids) and the traceback, ``--quiet`` only errors and the data a command prints.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from anythingllm_bridge.cli._command import AllmGroup, AllmTyper, print_error
from anythingllm_bridge.cli._errors import EXIT_INTERRUPTED, EXIT_USAGE, CliError, explain
from anythingllm_bridge.cli._render import ChatModeOption, answer, dump, print_health, print_report, snippet
from anythingllm_bridge.cli._state import FLAGS, Invocation, invocation, where_it_looked
from anythingllm_bridge.errors import AnythingLLMBridgeError
from anythingllm_bridge.ingest_config import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_PASSES,
    DEFAULT_MAX_WAIT,
    MAX_CONCURRENCY,
)
from anythingllm_bridge.tracing import get_logger

if TYPE_CHECKING:
    from anythingllm_bridge.client import AnythingLLMClient
    from anythingllm_bridge.client.models import HealthStatus
    from anythingllm_bridge.config import Settings
    from anythingllm_bridge.ingest import SyncReport
    from anythingllm_bridge.ingest.progress import Progress
    from anythingllm_bridge.validation import FileValidator

__all__ = ["app", "main"]

T = TypeVar("T")

app = AllmTyper(
    name="allm",
    help="Talk to AnythingLLM's developer API: workspaces, documents, sync, search and chat.",
    epilog="Exit codes: 0 done, 1 failed, 2 usage error, 130 interrupted. Settings: allm config.",
    cls=AllmGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
workspaces_app = AllmTyper(
    help="List, show, create, update and delete workspaces.", no_args_is_help=True, rich_markup_mode=None
)
docs_app = AllmTyper(help="List, upload and remove documents.", no_args_is_help=True, rich_markup_mode=None)
threads_app = AllmTyper(
    help="Create, list, read and delete threads.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(workspaces_app, name="workspaces")
app.add_typer(docs_app, name="docs")
app.add_typer(threads_app, name="threads")

out = Console(highlight=False, soft_wrap=True)


def _not_blank(value: Any) -> Any:
    """Refuse an empty (or all-space) argument before anything is sent."""
    values = value if isinstance(value, list) else [value]
    if any(isinstance(item, str) and not item.strip() for item in values):
        raise typer.BadParameter("must not be empty")
    return value


JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
SlugArgument = Annotated[str, typer.Argument(metavar="SLUG", help="Workspace slug.", callback=_not_blank)]


# --------------------------------------------------------------------------- running a command


def make_client(settings: Settings, **overrides: Any) -> AnythingLLMClient:
    """A client on ``settings`` (``overrides`` replace its options), imported only when a command
    talks to a server: ``allm --help`` never loads the client."""
    from anythingllm_bridge.client import create_anythingllm_client

    return create_anythingllm_client(settings, **overrides)


def run(state: Invocation, work: Callable[[], Awaitable[T]], *, interrupted: str = "interrupted") -> T:
    """Run one coroutine; an expected failure becomes a :class:`CliError` (one line, exit 1)."""
    import asyncio  # here, not at the top: `allm --help` runs no coroutine (bench/startup.py)

    try:
        return asyncio.run(_as_coroutine(work))
    except KeyboardInterrupt:
        raise CliError(interrupted, code=EXIT_INTERRUPTED) from None
    except CliError:
        raise
    except (AnythingLLMBridgeError, ValueError, OSError) as exc:
        if state.verbose:
            get_logger("anythingllm_bridge.cli").exception("command failed")
        raise CliError(explain(exc, state.loaded)) from None


async def _as_coroutine(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


def run_with_client(
    state: Invocation, conf: Settings, call: Callable[[AnythingLLMClient], Awaitable[T]]
) -> T:
    """:func:`run` ``call`` with a client on ``conf``, opened before and closed after."""

    async def work() -> T:
        async with make_client(conf) as client:
            return await call(client)

    return run(state, work)


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Stop the command with ``error: <message>`` and exit ``code``."""
    raise CliError(message, code=code)


def usage_error(ctx: typer.Context, message: str) -> CliError:
    """A usage error (exit 2) of this command, to raise."""
    return CliError(message, code=EXIT_USAGE, usage_of=ctx.command_path)


def say(state: Invocation, text: str) -> None:
    """Print a message that is not data (a confirmation, a hint): nothing with ``--quiet``."""
    if not state.quiet:
        out.print(text)


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (non-ASCII kept as is; values JSON cannot hold,
    such as dates, as their text)."""
    import json

    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def confirm(ctx: typer.Context, question: str, *, yes: bool, refusal: str) -> None:
    """Go on only when ``--yes`` was given or a person at the terminal says yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise usage_error(ctx, f"{refusal} without confirmation: pass --yes")
    if not typer.confirm(question, default=False):
        raise CliError("not confirmed: nothing was deleted")


def setup_logging(verbose: bool) -> None:
    """Log to stderr, with each call's trace id: the library's every record with ``--verbose``,
    otherwise only its errors (an expected failure is the command's one ``error:`` line)."""
    import logging

    from anythingllm_bridge.tracing import TraceIdFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(TraceIdFilter())
    handler.setFormatter(_LogFormatter("%(asctime)s %(levelname)-7s %(name)s%(trace)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    # without --verbose, expected failures are reported by the command in one line: the library
    # logs only errors
    logging.getLogger("anythingllm_bridge").setLevel(logging.DEBUG if verbose else logging.ERROR)


def _version(value: bool) -> None:
    if value:
        from anythingllm_bridge import __version__

        sys.stdout.write(f"allm {__version__}\n")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url", metavar="URL", help="AnythingLLM server (default: ANYTHINGLLM_URL).", show_default=False
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            metavar="KEY",
            help="Developer API key (default: ANYTHINGLLM_API_KEY).",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show the logs, with trace ids, and tracebacks.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only errors and the data a command exists to print.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    if verbose and quiet:
        raise usage_error(ctx, "--verbose and --quiet contradict each other: use one")
    ctx.obj = Invocation(url=url, api_key=api_key, verbose=verbose, quiet=quiet)
    setup_logging(verbose)


class _LogFormatter(logging.Formatter):
    """``[trace <id>]`` after the logger's name, for records logged inside a call (none outside)."""

    def format(self, record: logging.LogRecord) -> str:
        trace_id = getattr(record, "trace_id", None)
        record.trace = f" [trace {trace_id}]" if trace_id else ""
        return super().format(record)


# --------------------------------------------------------------------------- health and config


@app.command()
def health(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Check the server: reachable, AnythingLLM, key accepted.

    Prints the three separately, with the latency and the circuit breaker; exit 1 unless all hold.
    """
    state = invocation(ctx)
    conf = state.settings(need_key=False)

    async def work() -> HealthStatus:
        return await make_client(conf).health_check()

    status = run(state, work)
    if conf.anythingllm_api_key is None and status.answering:  # nothing to accept: say so
        reason = f"no API key found ({where_it_looked()}): set ANYTHINGLLM_API_KEY or pass --api-key"
        status = status.model_copy(update={"authenticated": None, "reason": reason})
    if as_json:
        emit_json(status.model_dump(mode="json"))  # with the nulls: "not checked" is an answer too
    elif not state.quiet:
        print_health(out, status, key_set=conf.anythingllm_api_key is not None)
    if not status.ok:
        fail(status.reason or "the server is not healthy")


@app.command("config")
def config_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every setting, its value and where it came from.

    Highest first: --url / --api-key, the environment, the .env file of this folder or its nearest
    parent, the user config file ($XDG_CONFIG_HOME/anythingllm-bridge/config.toml), the default.
    Secrets are never shown.
    """
    from anythingllm_bridge.config import env_names, nearest_dotenv, setting_origins, user_config_file

    state = invocation(ctx)
    conf = state.settings(need_key=False)
    origins = setting_origins(**state.flag_values())
    rows = []
    for field in type(conf).model_fields:
        origin = origins[field]
        rows.append(
            {
                "name": env_names(field)[0],
                "value": _shown(getattr(conf, field)),
                "source": FLAGS.get(field, origin) if origin == "argument" else origin,
            }
        )
    dotenv, config_file = nearest_dotenv(), user_config_file()
    if as_json:
        emit_json(
            {
                "settings": {row["name"]: {"value": row["value"], "source": row["source"]} for row in rows},
                "dotenv": str(dotenv) if dotenv else None,
                "config_file": str(config_file),
                "config_file_found": config_file.is_file(),
            }
        )
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("setting", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("from", no_wrap=True)
    for row in rows:
        value = row["value"]
        text = "" if value is None else ",".join(value) if isinstance(value, list) else str(value)
        table.add_row(row["name"], escape(text), escape(row["source"]))
    out.print(table)
    found_dotenv = str(dotenv) if dotenv else f"none in {Path.cwd()} or its parents"
    out.print(f".env file    {escape(found_dotenv)}")
    found = "" if config_file.is_file() else " (not found)"
    out.print(f"config file  {escape(str(config_file))}{found}")


def _shown(value: Any) -> Any:
    """A setting's value for ``allm config``: secrets masked, paths as text."""
    from pydantic import SecretStr

    if isinstance(value, SecretStr):
        return "********"
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


# --------------------------------------------------------------------------- workspaces


@workspaces_app.command("list")
def workspaces_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every workspace with its slug, chat mode and number of threads."""
    state = invocation(ctx)
    items = run_with_client(state, state.settings(), lambda client: client.list_workspaces())
    if as_json:
        emit_json(dump(items))
        return
    if not items:
        say(state, "no workspaces (create one with: allm workspaces create NAME)")
        return
    table = Table("slug", "name", "mode", "threads", box=None, pad_edge=False)
    for ws in items:
        table.add_row(escape(ws.slug), escape(ws.name or ""), ws.chat_mode or "", str(len(ws.threads)))
    out.print(table)


@workspaces_app.command("show")
def workspaces_show(ctx: typer.Context, slug: SlugArgument, as_json: JsonOption = False) -> None:
    """One workspace: its settings, documents and threads."""
    state = invocation(ctx)
    ws = run_with_client(state, state.settings(), lambda client: client.get_workspace(slug))
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
    typer.Option("--mode", metavar="MODE", help="Chat mode: chat, query or automatic.", show_default=False),
]
PromptOption = Annotated[
    str | None, typer.Option("--prompt", metavar="TEXT", help="System prompt.", show_default=False)
]
TemperatureOption = Annotated[
    float | None,
    typer.Option("--temperature", metavar="NUMBER", min=0, help="LLM temperature.", show_default=False),
]
TopNOption = Annotated[
    int | None,
    typer.Option("--top-n", metavar="N", min=1, help="Chunks given to the LLM.", show_default=False),
]
ThresholdOption = Annotated[
    float | None,
    typer.Option(
        "--similarity-threshold",
        metavar="NUMBER",
        min=0,
        max=1,
        help="Lowest similarity of a chunk given to the LLM.",
        show_default=False,
    ),
]


@workspaces_app.command("create")
def workspaces_create(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME", help="Workspace name (the server derives the slug).", callback=_not_blank
        ),
    ],
    mode: ModeOption = None,
    prompt: PromptOption = None,
    temperature: TemperatureOption = None,
    top_n: TopNOption = None,
    similarity_threshold: ThresholdOption = None,
    allow_duplicate: Annotated[
        bool,
        typer.Option("--allow-duplicate", help="Create it even when a workspace has this name already."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a workspace and print its slug.

    A name that a workspace has already is refused, unless --allow-duplicate.
    """
    state = invocation(ctx)
    options = _settings_args(mode, prompt, temperature, top_n, similarity_threshold)

    async def work(client: AnythingLLMClient) -> Any:
        if not allow_duplicate:
            wanted = name.strip().casefold()
            for ws in await client.list_workspaces():
                if (ws.name or "").strip().casefold() == wanted:
                    raise CliError(
                        f"a workspace named {ws.name!r} exists already (slug {ws.slug}): use it, "
                        "or pass --allow-duplicate to create another"
                    )
        return await client.create_workspace(name, **options)

    ws = run_with_client(state, state.settings(), work).workspace
    if as_json:
        emit_json(dump(ws))
    elif state.quiet:
        out.print(escape(ws.slug))
    else:
        out.print(f"created workspace {escape(ws.name or name)!s} (slug: {escape(ws.slug)})")


@workspaces_app.command("update")
def workspaces_update(
    ctx: typer.Context,
    slug: SlugArgument,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="NAME",
            help="New name (the slug stays).",
            show_default=False,
            callback=_not_blank,
        ),
    ] = None,
    mode: ModeOption = None,
    prompt: PromptOption = None,
    temperature: TemperatureOption = None,
    top_n: TopNOption = None,
    similarity_threshold: ThresholdOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a workspace's settings."""
    state = invocation(ctx)
    options = _settings_args(mode, prompt, temperature, top_n, similarity_threshold)
    if name is not None:
        options["name"] = name
    if not options:
        raise usage_error(
            ctx,
            "nothing to update: pass at least one of --name, --mode, --prompt, --temperature, --top-n, "
            "--similarity-threshold",
        )

    async def work(client: AnythingLLMClient) -> Any:
        await client.get_workspace(slug)  # a clear "does not exist" before the update
        return await client.update_workspace(slug, **options)

    ws = run_with_client(state, state.settings(), work).workspace
    if as_json:
        emit_json(dump(ws))
    else:
        say(
            state,
            f"updated workspace {escape(ws.slug)}: "
            + ", ".join(f"{_OPTION_LABELS.get(k, k)}={v}" for k, v in options.items()),
        )


YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


@workspaces_app.command("delete")
def workspaces_delete(ctx: typer.Context, slug: SlugArgument, yes: YesOption = False) -> None:
    """Delete a workspace, its chats and embeddings.

    The documents stay on the server. Asks first on a terminal; needs --yes otherwise.
    """
    state = invocation(ctx)
    conf = state.settings()
    run_with_client(state, conf, lambda client: client.get_workspace(slug))  # it exists: then ask
    confirm(
        ctx,
        f"Delete workspace {slug!r} with its chats and embeddings?",
        yes=yes,
        refusal=f"refusing to delete workspace {slug!r}",
    )
    run_with_client(state, conf, lambda client: client.delete_workspace(slug))
    say(state, f"deleted workspace {escape(slug)}")


# --------------------------------------------------------------------------- documents


WorkspaceOption = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        metavar="SLUG",
        help="Only the documents of this workspace.",
        show_default=False,
        callback=_not_blank,
    ),
]


@docs_app.command("list")
def docs_list(
    ctx: typer.Context,
    workspace: WorkspaceOption = None,
    folder: Annotated[
        str | None, typer.Option("--folder", metavar="FOLDER", help="Only this folder.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Documents and their locations, on the server or in one workspace."""
    state = invocation(ctx)

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

    rows = run_with_client(state, state.settings(), work)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        say(state, "no documents")
        return
    table = Table("location", "title", "words", box=None, pad_edge=False)
    for row in rows:
        table.add_row(escape(str(row["location"])), escape(str(row["title"] or "")), str(row["words"] or ""))
    out.print(table)


def file_types(text: str) -> list[str]:
    """``"pdf, .MD"`` → ``["pdf", "md"]``."""
    return [t.strip().lower().lstrip(".") for t in text.replace(";", ",").split(",") if t.strip(" .")]


def _some_types(value: str | None) -> str | None:
    if value is not None and not file_types(value):
        raise typer.BadParameter("names no file type (e.g. --types pdf,md,csv)")
    return value


TypesOption = Annotated[
    str | None,
    typer.Option(
        "--types",
        metavar="TYPES",
        help="Accepted file types, comma-separated (default: ALLOWED_FILE_TYPES, else pdf,json,csv).",
        show_default=False,
        callback=_some_types,
    ),
]


def make_validator(conf: Settings, types: str | None) -> FileValidator:
    """The validator of ``--types`` (or of the settings, which must then name some type)."""
    from anythingllm_bridge.validation import FileValidator

    if types is not None:
        conf = conf.model_copy(update={"allowed_file_types": file_types(types)})
    elif not conf.allowed_file_types:
        raise CliError(
            "ALLOWED_FILE_TYPES names no file type (see: allm config): set it, e.g. to pdf,json,csv, "
            "or pass --types"
        )
    return FileValidator.create_from_settings(conf)


@docs_app.command("upload")
def docs_upload(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(metavar="FILE", help="Files to upload.", show_default=False)],
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            "-w",
            metavar="SLUG",
            help="Embed into this workspace.",
            show_default=False,
            callback=_not_blank,
        ),
    ] = None,
    folder: Annotated[
        str | None, typer.Option("--folder", metavar="FOLDER", help="Server folder.", show_default=False)
    ] = None,
    types: TypesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate and upload files, and embed them into a workspace.

    Each file is checked by its content; with --workspace each is checked to be in the workspace too.
    """
    state = invocation(ctx)
    conf = state.settings()
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
            verdict = await asyncio.to_thread(validator.inspect, path)
            if verdict.reason is not None:
                results.append({"file": str(path), "status": "rejected", "reason": verdict.reason})
                continue
            result = await client.upload_file(
                path, workspaces=[workspace] if workspace else None, folder=folder
            )
            status = "uploaded" if result.embedded else "not embedded"
            results.append({"file": str(path), "status": status, "location": result.location})
        return results

    results = run_with_client(state, conf, work)
    if as_json:
        emit_json(results)
    for item in results:
        if item["status"] == "rejected":
            print_error(f"rejected {item['file']}: {item['reason']}")
        elif item["status"] == "not embedded":
            print_error(
                f"not embedded: {item['file']} was uploaded to {item['location']} but is not in workspace "
                f"{workspace}; upload it again"
            )
        elif not as_json:
            where = f" into {workspace}" if workspace else ""
            out.print(f"uploaded  {escape(item['file'])} -> {escape(item['location'])}{escape(where)}")
    if any(item["status"] != "uploaded" for item in results):
        raise typer.Exit(1)


@docs_app.command("remove")
def docs_remove(
    ctx: typer.Context,
    locations: Annotated[
        list[str],
        typer.Argument(
            metavar="LOCATION",
            help="Document locations (folder/name.json, see: allm docs list).",
            show_default=False,
            callback=_not_blank,
        ),
    ],
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            "-w",
            metavar="SLUG",
            help="Only take them out of this workspace (they stay on the server).",
            show_default=False,
            callback=_not_blank,
        ),
    ] = None,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Delete documents (or take them out of one workspace).

    Without --workspace they are deleted from the server and every workspace (asks first on a terminal,
    needs --yes otherwise). Every location must exist, or nothing is removed.
    """
    state = invocation(ctx)
    conf = state.settings()
    wanted = list(dict.fromkeys(locations))
    where = f"workspace {workspace}" if workspace else "the server"
    not_there = f"not in workspace {workspace}" if workspace else "not on the server"

    async def check(client: AnythingLLMClient) -> None:
        if workspace is not None:
            present = (await client.get_workspace(workspace)).docpaths
        else:
            present = {doc.location for doc in await client.list_documents() if doc.location}
        missing = [location for location in wanted if location not in present]
        if missing:
            listing = f"allm docs list --workspace {workspace}" if workspace else "allm docs list"
            raise CliError(f"{not_there}: {', '.join(missing)}; nothing was removed (see: {listing})")

    run_with_client(state, conf, check)
    if workspace is None:
        confirm(
            ctx,
            f"Delete {len(wanted)} document(s) from the server and from every workspace?",
            yes=yes,
            refusal="refusing to delete documents from the server",
        )

    async def remove(client: AnythingLLMClient) -> None:
        if workspace is not None:
            update = await client.update_embeddings(workspace, deletes=wanted)
            if update.not_removed:
                raise CliError(f"still in workspace {workspace!r}: {', '.join(update.not_removed)}")
        else:
            await client.delete_documents_from_server(wanted)

    run_with_client(state, conf, remove)
    if as_json:
        emit_json({"removed": wanted, "from": workspace or "server"})
        return
    for location in wanted:
        say(state, f"removed {escape(location)} from {escape(where)}")


# --------------------------------------------------------------------------- sync


def _shard(value: str | None) -> str | None:
    if value is not None:
        from anythingllm_bridge.ingest.shard import Shard

        try:
            Shard.parse(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


class _Tally:
    """The sync's progress display, counting the uploads and the documents confirmed in the
    workspace, so that an interrupted sync can say how far it got."""

    def __init__(self, shown: Progress) -> None:
        self.shown = shown
        self.uploaded = 0
        self.confirmed = 0

    def busy(self, what: str) -> None:
        """Passed on."""
        self.shown.busy(what)

    def start(self, files: int, total_bytes: int) -> None:
        """Passed on."""
        self.shown.start(files, total_bytes)

    def sent(self, key: str, size: int) -> None:
        """Counted, and passed on."""
        self.uploaded += 1
        self.shown.sent(key, size)

    def file_done(self, key: str, size: int, status: str, detail: str = "") -> None:
        """Passed on."""
        self.shown.file_done(key, size, status, detail)

    def retrying(self, key: str, detail: str) -> None:
        """Passed on."""
        self.shown.retrying(key, detail)

    def embedded(self, count: int) -> None:
        """Counted, and passed on."""
        self.confirmed += count
        self.shown.embedded(count)

    def waiting(self, what: str, seconds: float) -> None:
        """Passed on."""
        self.shown.waiting(what, seconds)

    def note(self, message: str) -> None:
        """Passed on."""
        self.shown.note(message)

    def finish(self) -> None:
        """Passed on."""
        self.shown.finish()


def _max_delete(value: str | None) -> int | None:
    if value is None:
        return None
    if value.strip().lower() == "all":
        return sys.maxsize
    if not value.strip().isdigit():
        raise typer.BadParameter(f"is a number of files or 'all', got {value!r}")
    return int(value)


@app.command()
def sync(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            metavar="SOURCE", help="A folder, or s3://bucket/prefix.", show_default=False, callback=_not_blank
        ),
    ],
    workspace: Annotated[
        str,
        typer.Option(
            "--workspace",
            "-w",
            metavar="SLUG",
            help="Workspace slug.",
            show_default=False,
            callback=_not_blank,
        ),
    ],
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove documents whose file is gone or no longer allowed.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; send nothing.")] = False,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            metavar="N",
            min=1,
            max=MAX_CONCURRENCY,
            help=f"Files at once, 1-{MAX_CONCURRENCY} "
            f"(default: INGEST_CONCURRENCY, else {DEFAULT_CONCURRENCY}).",
            show_default=False,
        ),
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            metavar="PATH",
            help="The cache of file hashes; an existing file that is not one is refused (default: "
            "MANIFEST_PATH, else one per source in $XDG_STATE_HOME/anythingllm-bridge/manifests/).",
            show_default=False,
        ),
    ] = None,
    source_id: Annotated[
        str | None,
        typer.Option(
            "--source-id",
            metavar="NAME",
            help="Name the source (default: its absolute path, or s3://bucket/prefix); give the same "
            "name on every machine that syncs the same files from another path.",
            show_default=False,
            callback=_not_blank,
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="I/N",
            help="Take only share I of N of the files (0 <= I < N), to spread a source over N runs.",
            show_default=False,
            callback=_shard,
        ),
    ] = None,
    max_delete: Annotated[
        str | None,
        typer.Option(
            "--max-delete",
            metavar="N|all",
            help="With --prune: let it remove up to N files' documents, past the guard (default: "
            "none when the source is empty, at most half otherwise).",
            show_default=False,
        ),
    ] = None,
    max_passes: Annotated[
        int | None,
        typer.Option(
            "--max-passes",
            metavar="N",
            min=1,
            help="Passes over files that failed transiently before they count as failed "
            f"(default: INGEST_MAX_PASSES, else {DEFAULT_MAX_PASSES}).",
            show_default=False,
        ),
    ] = None,
    max_wait: Annotated[
        float | None,
        typer.Option(
            "--max-wait",
            metavar="SECONDS",
            min=0,
            help="Seconds to wait, in all, for an open circuit breaker "
            f"(default: INGEST_MAX_WAIT, else {DEFAULT_MAX_WAIT:g}).",
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
    """Make a workspace hold exactly the valid files of a source.

    The source is a folder or an s3://bucket/prefix; each valid file ends up in
    the workspace once. The workspace says what is synced (each
    document is marked with its source, path and content hash), so a second run, from here or any
    machine, sends nothing unchanged; changed files replace their old version.
    """
    state = invocation(ctx)
    try:
        allowed_deletes = _max_delete(max_delete)
    except typer.BadParameter as exc:
        raise usage_error(ctx, f"--max-delete {exc.message}") from None
    if allowed_deletes is not None and not prune:
        raise usage_error(ctx, "--max-delete only applies with --prune")
    conf = state.settings()
    validator = make_validator(conf, types)
    from anythingllm_bridge.ingest import PruneRefusedError, make_progress

    tally = _Tally(make_progress(quiet=as_json or state.quiet))

    async def work() -> SyncReport | PruneRefusedError:
        from anythingllm_bridge.ingest import run_sync

        try:
            return await run_sync(
                conf,
                source,
                workspace=workspace,
                prune=prune,
                dry_run=dry_run,
                concurrency=concurrency,
                manifest=manifest,
                source_id=source_id,
                shard=shard,
                max_delete=allowed_deletes,
                max_passes=max_passes,
                max_wait=max_wait,
                validator=validator,
                archive=archive,
                progress=tally,
            )
        except PruneRefusedError as refused:  # its own line below, naming the option
            return refused

    def show(report: SyncReport) -> None:
        if as_json:
            emit_json(report.to_json())
        elif not state.quiet:
            print_report(out, report)

    try:
        report = run(state, work, interrupted="interrupted")
    except CliError as exc:
        if exc.code == EXIT_INTERRUPTED:
            exc.message = (
                f"interrupted after {tally.uploaded} upload(s) into the workspace ({tally.confirmed} "
                "of them confirmed embedded); run the same command again to resume"
            )
        raise
    if isinstance(report, PruneRefusedError):
        if report.report is not None:  # a dry run: its plan is worth seeing all the same
            show(report.report)
        fail(
            f"{report.reason}; nothing was sent or removed. If the files are really gone, run again "
            f"with --max-delete {report.count}"
        )
    show(report)
    if report.failed or report.rejected:
        from anythingllm_bridge.ingest import display_key

        def named(keys: list[str]) -> str:
            shown = ", ".join(display_key(k) for k in keys[:3])
            return shown + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")

        failed, rejected = sorted(report.failed), sorted(report.rejected)
        parts = []
        if len(failed) == 1:
            why = display_key(report.failed[failed[0]])
            parts.append(f"{display_key(failed[0])} could not be synced: {why}")
        elif failed:
            parts.append(f"{len(failed)} file(s) could not be synced ({named(failed)})")
        if rejected:
            parts.append(f"{len(rejected)} file(s) rejected ({named(rejected)})")
        transient = any(report.outcomes[key].transient for key in failed)
        advice = "run the same command again to retry them" if transient else "see the report for why"
        fail(f"{'; '.join(parts)}; {advice}")


# --------------------------------------------------------------------------- search and chat


@app.command()
def search(
    ctx: typer.Context,
    slug: SlugArgument,
    query: Annotated[str, typer.Argument(metavar="QUERY", help="What to look for.", callback=_not_blank)],
    limit: Annotated[int, typer.Option("--limit", "-n", metavar="N", min=1, help="Results at most.")] = 5,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold", metavar="NUMBER", min=0, max=1, help="Minimum score.", show_default=False
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Vector search in a workspace, without the LLM."""
    state = invocation(ctx)
    results = run_with_client(
        state,
        state.settings(),
        lambda client: client.search_workspace(slug, query, limit=limit, score_threshold=threshold),
    )
    if as_json:
        emit_json(dump(results))
        return
    if not results:
        say(state, "no matches")
        return
    for n, hit in enumerate(results, start=1):
        score = f"{hit.score:.3f}" if hit.score is not None else "-"
        out.print(f"{n}. [bold]{escape(hit.title or '?')}[/] (score {score})")
        out.print(f"   {escape(snippet(hit.text))}")


@app.command()
def ask(
    ctx: typer.Context,
    slug: SlugArgument,
    question: Annotated[str, typer.Argument(metavar="QUESTION", help="Your question.", callback=_not_blank)],
    mode: Annotated[
        ChatModeOption | None,
        typer.Option(
            "--mode",
            metavar="MODE",
            help="query: only from documents; chat: free; or automatic.",
            show_default=False,
        ),
    ] = None,
    thread: Annotated[
        str | None,
        typer.Option(
            "--thread",
            metavar="THREAD",
            help="Ask inside this thread.",
            show_default=False,
            callback=_not_blank,
        ),
    ] = None,
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            metavar="ID",
            help="Keep a separate history under this id.",
            show_default=False,
            callback=_not_blank,
        ),
    ] = None,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Wait for the whole answer.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Ask a workspace: the answer streams in, then its sources."""
    state = invocation(ctx)
    if thread is not None and session is not None:
        raise usage_error(
            ctx, "--session does not apply to threads (a thread keeps its own history): use one or the other"
        )

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

    result = run_with_client(state, state.settings(), work)
    if as_json:
        emit_json(result)


# --------------------------------------------------------------------------- threads


ThreadArgument = Annotated[str, typer.Argument(metavar="THREAD", help="Thread slug.", callback=_not_blank)]


@threads_app.command("new")
def threads_new(
    ctx: typer.Context,
    slug: SlugArgument,
    name: Annotated[
        str | None, typer.Option("--name", metavar="NAME", help="Thread name.", show_default=False)
    ] = None,
    thread_slug: Annotated[
        str | None,
        typer.Option(
            "--slug",
            metavar="THREAD",
            help="Thread slug (default: a UUID).",
            show_default=False,
            callback=_not_blank,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Start a thread in a workspace and print its slug."""
    state = invocation(ctx)

    async def work(client: AnythingLLMClient) -> Any:
        workspaces = await client.list_workspaces()
        if slug not in {ws.slug for ws in workspaces}:
            raise CliError(f"workspace {slug!r} does not exist (see: allm workspaces list)")
        for ws in workspaces:  # the server keeps thread slugs unique across all workspaces
            if thread_slug is not None and thread_slug in {t.slug for t in ws.threads}:
                raise CliError(
                    f"thread slug {thread_slug!r} is taken (in workspace {ws.slug!r}): pick another --slug"
                )
        return await client.create_thread(slug, name, thread_slug=thread_slug)

    thread = run_with_client(state, state.settings(), work).thread
    if as_json:
        emit_json(dump(thread))
    elif state.quiet:
        out.print(escape(thread.slug))
    else:
        out.print(f"created thread {escape(thread.name or '')} (slug: {escape(thread.slug)})")


@threads_app.command("list")
def threads_list(ctx: typer.Context, slug: SlugArgument, as_json: JsonOption = False) -> None:
    """The threads of a workspace."""
    state = invocation(ctx)
    threads = run_with_client(state, state.settings(), lambda client: client.list_threads(slug))
    if as_json:
        emit_json(dump(threads))
        return
    if not threads:
        say(state, "no threads")
    for thread in threads:
        out.print(f"{escape(thread.slug)}  {escape(thread.name or '')}")


@threads_app.command("history")
def threads_history(
    ctx: typer.Context, slug: SlugArgument, thread: ThreadArgument, as_json: JsonOption = False
) -> None:
    """Every turn of a thread, oldest first."""
    state = invocation(ctx)
    turns = run_with_client(state, state.settings(), lambda client: client.get_thread_history(slug, thread))
    if as_json:
        emit_json(dump(turns))
        return
    if not turns:
        say(state, "no messages")
    for turn in turns:
        out.print(f"[bold]{turn.role}[/]: {escape(turn.content or '')}")


@threads_app.command("delete")
def threads_delete(ctx: typer.Context, slug: SlugArgument, thread: ThreadArgument) -> None:
    """Delete a thread and its messages."""
    state = invocation(ctx)

    async def work(client: AnythingLLMClient) -> None:
        threads = await client.list_threads(slug)
        if thread not in {t.slug for t in threads}:
            raise CliError(
                f"thread {thread!r} does not exist in workspace {slug!r} (see: allm threads list {slug})"
            )
        await client.delete_thread(slug, thread)

    run_with_client(state, state.settings(), work)
    say(state, f"deleted thread {escape(thread)}")


# --------------------------------------------------------------------------- emulator and demo


@app.command()
def emulator(
    port: Annotated[
        int, typer.Option("--port", "-p", metavar="PORT", min=0, max=65535, help="0 = any free port.")
    ] = 3001,
    host: Annotated[str, typer.Option("--host", metavar="HOST", help="Address to listen on.")] = "127.0.0.1",
    api_key: Annotated[
        str | None,
        typer.Option(
            "--key", metavar="KEY", help="API key to accept (default: a random one).", show_default=False
        ),
    ] = None,
    latency_profile: Annotated[
        str | None,
        typer.Option(
            "--latency-profile",
            metavar="NAME|FILE",
            help="Answer as slowly as a measured server: real-1.16, or a JSON profile (docs/emulator.md).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the built-in AnythingLLM emulator until Ctrl-C."""
    import asyncio
    import secrets

    from anythingllm_bridge.testing import Emulator, LatencyProfile

    key = api_key or f"EMU-{secrets.token_hex(8).upper()}"
    try:
        profile = LatencyProfile.load(latency_profile) if latency_profile else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--latency-profile") from None

    async def work() -> None:
        from anythingllm_bridge.testing import run_emulator

        emulated = Emulator(key, latency_profile=profile)
        async with run_emulator(host=host, port=port, emulator=emulated) as running:
            shown = f" (latency profile {profile.name})" if profile else ""
            out.print(f"AnythingLLM emulator listening on {running.url}{shown}")
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
    ctx: typer.Context,
    real: Annotated[
        bool, typer.Option("--real", help="Run against ANYTHINGLLM_URL / ANYTHINGLLM_API_KEY instead.")
    ] = False,
    keep: Annotated[
        bool, typer.Option("--keep", help="With --real: keep the demo workspace and documents.")
    ] = False,
) -> None:
    """The whole tour in one go, on the built-in emulator.

    Emulator, workspace, sync (twice), search, a streamed answer, breaker state; --real runs the same
    on the configured server and cleans up after itself.
    """
    from anythingllm_bridge.cli.demo import run_demo

    state = invocation(ctx)
    if keep and not real:
        raise usage_error(ctx, "--keep applies to --real only (the emulator's demo leaves nothing behind)")
    conf = state.settings() if real else None
    run(state, lambda: run_demo(out, settings=conf, keep=keep))


def main() -> None:
    """Console-script entry point (``allm``)."""
    app(prog_name="allm")


if __name__ == "__main__":  # pragma: no cover
    main()
