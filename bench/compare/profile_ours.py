"""Where our client's time goes in one task of the side-by-side benchmark: pyinstrument's call tree
of ``contenders.ours_job`` against a fresh emulator process (after the same warm-up).

    bench/compare/.venv/bin/python bench/compare/profile_ours.py upload --concurrency 1 --rounds 3

Needs pyinstrument in the bench venv (``bench/compare/requirements.txt`` has it).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import contenders  # noqa: E402

import compare  # noqa: E402


async def profile(spec: dict[str, object], rounds: int, min_share: float) -> str:
    from pyinstrument import Profiler

    async with contenders.ours_job(spec, []) as once:
        await once(-1)
        profiler = Profiler(interval=0.0002, async_mode="disabled")
        profiler.start()
        for index in range(rounds):
            await once(index if spec["task"] == "upload" else 0)
        profiler.stop()
    text: str = profiler.output_text(unicode=True, color=False, show_all=True)
    total = profiler.last_session.duration if profiler.last_session else 0.0
    return "\n".join(line for line in text.splitlines() if _share(line, total) >= min_share)


def _share(line: str, total: float) -> float:
    """The fraction of ``total`` a pyinstrument line stands for (1.0 for header lines)."""
    for word in line.split():
        try:
            return float(word) / total if total else 1.0
        except ValueError:
            continue
    return 1.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("task", choices=compare.TASKS)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-share", type=float, default=0.01, help="hide frames below this share of time")
    args = parser.parse_args()
    rng = random.Random(7)
    with (
        tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp,
        compare.emulator(Path(tmp) / "log") as server,
    ):
        work = Path(tmp)
        files = compare.make_corpus(work, 200, "note", rng)
        messages = compare.make_questions(200, rng)
        spec = {
            "url": server.url,
            "key": compare.KEY,
            "contender": "ours",
            "concurrency": args.concurrency,
            "task": args.task,
            "workspaces": [compare.create_workspace(server.url, f"bench {r}") for r in range(args.rounds)],
            "warmup_workspace": compare.create_workspace(server.url, "warm-up"),
            "files": files,
            "warmup_files": compare.make_corpus(work, compare.WARMUP, "warm", rng),
            "messages": messages[:100] if args.task == "chat" else messages,
            "warmup_messages": messages[: compare.WARMUP],
        }
        if args.task != "upload":  # chat and search need the files in the first workspace

            async def fill() -> None:
                async with contenders.aiohttp_job({**spec, "task": "upload"}, []) as once:
                    await once(0)

            asyncio.run(fill())
        print(asyncio.run(profile(spec, args.rounds, args.min_share)))


if __name__ == "__main__":
    main()
