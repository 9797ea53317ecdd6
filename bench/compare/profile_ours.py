"""Where our client's time goes in one task of the side-by-side benchmark: pyinstrument's call tree
of ``contenders.ours_job`` against a fresh emulator process (after one warm-up round).

    bench/compare/.venv/bin/python bench/compare/profile_ours.py ingest --concurrency 8 --rounds 3
    bench/compare/.venv/bin/python bench/compare/profile_ours.py ingest --latency-profile real-1.16

Needs pyinstrument in the bench venv (``bench/compare/requirements.txt`` has it).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import contenders  # noqa: E402
import corpus  # noqa: E402

import compare  # noqa: E402


async def profile(spec: dict[str, Any], commands: list[dict[str, Any]], min_share: float) -> str:
    from pyinstrument import Profiler

    async with contenders.ours_job(spec) as once:
        await once(commands[0])  # the warm-up
        profiler = Profiler(interval=0.0002, async_mode="disabled")
        profiler.start()
        for command in commands[1:]:
            await once(command)
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
    parser.add_argument("task", choices=("ingest", *compare.QUERY_TASKS))
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--files", type=int, default=120, help="files per ingest round")
    parser.add_argument("--latency-profile", metavar="NAME|FILE", help="the emulator's latency profile")
    parser.add_argument("--min-share", type=float, default=0.01, help="hide frames below this share of time")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp,
        compare.emulator(Path(tmp) / "log", args.latency_profile) as server,
    ):
        work = Path(tmp)
        spec = {"contender": "ours", "task": args.task, "concurrency": args.concurrency}
        spec |= {"url": server.url, "key": server.key}
        commands = []
        for index in range(args.rounds + 1):
            slug = server.create_workspace(f"profile {index}")
            command: dict[str, Any] = {"cmd": "go", "round": index, "workspace": slug}
            if args.task == "ingest":
                command["files"] = [str(p) for p in corpus.write_small(work / f"r{index}", args.files)]
            else:
                for path in corpus.write_small(work / f"r{index}", 40):
                    server.upload(path, path.name, slug)
                command["messages"] = compare.make_questions(40, random.Random(index))
            commands.append(command)
        print(asyncio.run(profile(spec, commands, args.min_share)))


if __name__ == "__main__":
    main()
