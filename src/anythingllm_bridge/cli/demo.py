"""``allm demo``: the whole product in one minute, against the built-in emulator (or ``--real``).

Steps: start the emulator on a free loopback port, check health, create a workspace, sync the
bundled samples (one of them is refused by validation), sync again (nothing is re-sent), search,
ask a question with a streamed answer and its sources, show the circuit breaker, stop.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from anythingllm_bridge.cli._render import answer, breaker_text, print_health, print_report, snippet

if TYPE_CHECKING:
    from anythingllm_bridge.client import AnythingLLMClient
    from anythingllm_bridge.config import Settings
    from anythingllm_bridge.ingest import Progress, SyncReport
    from anythingllm_bridge.testing import Emulator

__all__ = ["DEMO_TYPES", "demo_files", "run_demo"]

DEMO_TYPES = ["pdf", "json", "csv", "md", "txt"]
QUERY = "book a telescope tour"
QUESTION = "How do I book a telescope tour, and when is the observatory open?"


SAMPLE_NAMES = ("faq.md", "observatory-handbook.pdf", "star-chart.pdf", "telescopes.json", "visitors.csv")


def demo_files(target: Path) -> Path:
    """Copy the bundled sample documents into ``target`` and return it."""
    target.mkdir(parents=True, exist_ok=True)
    data = resources.files("anythingllm_bridge.cli").joinpath("demo_data")
    for name in SAMPLE_NAMES:
        (target / name).write_bytes(data.joinpath(name).read_bytes())
    return target


async def run_demo(out: Console, *, settings: Settings | None = None, keep: bool = False) -> None:
    """Run the demo; ``settings`` given = a real server (``--real``), else the emulator."""
    if settings is not None:
        await _Demo(out, settings, emulator=None, cleanup=not keep).run()
        return
    from anythingllm_bridge.config import Settings
    from anythingllm_bridge.testing import run_emulator

    key = f"DEMO-{secrets.token_hex(6).upper()}"
    async with run_emulator(api_key=key, host="127.0.0.1", port=0) as running:
        out.print(f"[bold]1. started the built-in AnythingLLM emulator[/] on {running.url}")
        conf = Settings(_env_file=None, anythingllm_url=running.url, anythingllm_api_key=key)
        await _Demo(out, conf, emulator=running.emulator, cleanup=False).run()
    out.print()
    out.print("[bold]9. stopped the emulator[/]")


class _Demo:
    def __init__(self, out: Console, settings: Settings, *, emulator: Emulator | None, cleanup: bool) -> None:
        self.out = out
        self.settings = settings
        self.emulator = emulator
        self.cleanup = cleanup
        self.n = 1 if emulator is None else 2

    def step(self, text: str) -> None:
        if self.n > 1 or self.emulator is None:
            self.out.print()
        self.out.print(f"[bold]{self.n}. {text}[/]")
        self.n += 1

    async def run(self) -> None:
        from anythingllm_bridge.client import create_anythingllm_client

        client = create_anythingllm_client(self.settings)
        with tempfile.TemporaryDirectory(prefix="allm-demo-") as tmp:
            samples = await asyncio.to_thread(demo_files, Path(tmp) / "samples")
            async with client:
                await self._steps(client, samples, Path(tmp) / "manifest.json")

    async def _steps(self, client: AnythingLLMClient, samples: Path, manifest: Path) -> None:
        from anythingllm_bridge.ingest import run_sync
        from anythingllm_bridge.validation import FileValidator

        out = self.out
        self.step("health")
        print_health(out, await client.health_check(), indent="   ")

        name = "Observatory demo" if self.emulator else f"anythingllm-bridge demo {secrets.token_hex(3)}"
        self.step(f"create workspace {name!r}")
        # a low similarity threshold, so the small samples are found by short questions
        created = await client.create_workspace(name, chat_mode="query", similarity_threshold=0.1, top_n=4)
        workspace = created.workspace
        out.print(f"   slug: {escape(workspace.slug)}")

        validator = FileValidator(allowed_file_types=DEMO_TYPES)
        names = ", ".join(SAMPLE_NAMES)
        self.step(f"sync the bundled samples ({escape(names)})")

        async def sync_samples() -> SyncReport:
            report = await run_sync(
                self.settings,
                samples,
                workspace=workspace.slug,
                manifest=manifest,
                validator=validator,
                progress=self._progress(),
            )
            print_report(out, report, indent="   ")
            return report

        first = await sync_samples()

        self.step("sync again: nothing changed, so nothing is sent")
        uploads_before = self._uploads()
        await sync_samples()
        if self.emulator is not None:
            sent = self._uploads() - uploads_before
            out.print(f"   upload requests the emulator received during this sync: {sent}")

        self.step(f"search {QUERY!r} (vector search, no LLM)")
        hits = await client.search_workspace(workspace.slug, QUERY, limit=3)
        if not hits:
            out.print("   no matches above the workspace's similarity threshold")
        for n, hit in enumerate(hits, start=1):
            score = f"{hit.score:.3f}" if hit.score is not None else "-"
            out.print(f"   {n}. {escape(hit.title or '?')} (score {score}): {escape(snippet(hit.text, 90))}")

        self.step(f"ask {QUESTION!r} (streamed)")
        out.file.write("   ")
        await answer(client, workspace.slug, QUESTION, mode="query", printer=out, indent="   ")

        self.step("circuit breaker")
        health = await client.health_check()
        out.print(f"   {breaker_text(health.breaker) if health.breaker else 'unknown'}")

        if self.cleanup:
            self.step("clean up: remove the demo documents and workspace")
            locations = [o.location for o in first.outcomes.values() if o.location]
            if locations:
                await client.delete_documents_from_server(locations)
            await client.delete_workspace(workspace.slug)
            out.print(f"   removed {len(locations)} document(s) and workspace {escape(workspace.slug)}")

    def _progress(self) -> Progress | None:
        """Bars on a terminal; elsewhere the report says it all."""
        from anythingllm_bridge.ingest import RichProgress

        return RichProgress(self.out) if self.out.is_terminal else None

    def _uploads(self) -> int:
        if self.emulator is None:
            return 0
        requests: list[Any] = list(self.emulator.faults.requests)
        return sum(1 for r in requests if r.method == "POST" and r.path.startswith("/api/v1/document/upload"))
