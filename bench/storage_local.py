"""Local storage throughput and memory: upload_file / download_file of a large file vs ``cp``.

Writes a file of random bytes (default 1 GiB) in a temporary folder on the disk under test, then,
``--rounds`` times, in turn: ``cp`` it, ``cp`` + ``sync``, SHA-256 of it alone (hashlib: the floor
for an upload that must report the checksum), ``LocalStorageClient.upload_file`` (with fsync, the
default, and with ``fsync=False``) and ``download_file`` — every copy on the same disk. Reports the
median time per operation, throughput relative to ``cp``, and the growth of this process's peak
RSS (``ru_maxrss``) over all of it.
Everything written is deleted at the end.

    .venv/bin/python bench/storage_local.py                    # 1 GiB in a folder under /tmp
    .venv/bin/python bench/storage_local.py --mib 256 --dir /some/disk --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from anythingllm_bridge.storage import LocalStorageClient

MIB = 1024 * 1024


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_source(path: Path, size: int) -> None:
    block = os.urandom(4 * MIB)
    with path.open("wb") as out:
        for _ in range(size // len(block)):
            out.write(block)  # repeated random block: incompressible enough, cheap to make
        out.write(block[: size % len(block)])


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="folder on the disk under test")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.mib * MIB

    work = Path(tempfile.mkdtemp(prefix="allm-bench-", dir=args.dir))
    try:
        source = work / "source.bin"
        make_source(source, size)
        subprocess.run(["sync"], check=True)
        store = LocalStorageClient(work / "store")
        quick = LocalStorageClient(work / "store-nofsync", fsync=False)
        copy = work / "cp.bin"
        back = work / "back.bin"
        asyncio.run(store.put_stream("warm-up", [b"x"]))  # import and thread-pool start-up outside the timing
        before = peak_rss_mib()

        def run_cp() -> None:
            subprocess.run(["cp", str(source), str(copy)], check=True)

        def run_sha256() -> None:  # the checksum alone: the floor of an upload that must report it
            digest, view = hashlib.sha256(), memoryview(bytearray(4 * MIB))
            with source.open("rb", buffering=0) as handle:
                while size := handle.readinto(view):
                    digest.update(view[:size])

        def run_cp_sync() -> None:
            subprocess.run(["cp", str(source), str(copy)], check=True)
            subprocess.run(["sync"], check=True)

        times: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for name, action in [
                ("cp", run_cp),
                ("cp + sync", run_cp_sync),
                ("sha256 only (hashlib)", run_sha256),
                ("upload_file (fsync)", lambda: asyncio.run(store.upload_file(source, "docs/big.bin"))),
                ("upload_file (no fsync)", lambda: asyncio.run(quick.upload_file(source, "docs/big.bin"))),
                ("download_file", lambda: asyncio.run(store.download_file("docs/big.bin", back))),
            ]:
                # every copy writes a new file (replacing one would add the freeing of the old
                # file's blocks to the time), starting with no dirty pages pending
                if name.startswith("upload"):
                    asyncio.run((store if "(fsync)" in name else quick).delete_file("docs/big.bin"))
                for leftover in (copy, back):
                    leftover.unlink(missing_ok=True)
                subprocess.run(["sync"], check=True)
                times.setdefault(name, []).append(timed(action))
        growth = peak_rss_mib() - before
    finally:
        shutil.rmtree(work, ignore_errors=True)

    cp = statistics.median(times["cp"])
    cp_sync = statistics.median(times["cp + sync"])
    print(
        f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, {args.mib} MiB file"
    )
    print(f"{'operation':24} {'median s':>9} {'MiB/s':>7} {'vs cp':>6} {'vs cp+sync':>10}   all runs (s)")
    for name, runs in times.items():
        median = statistics.median(runs)
        print(
            f"{name:24} {median:9.3f} {args.mib / median:7.0f} {cp / median:6.0%} {cp_sync / median:10.0%}   "
            + " ".join(f"{t:.3f}" for t in runs)
        )
    print(f"peak RSS growth over all runs: {growth:.1f} MiB (before {before:.1f} MiB)")


if __name__ == "__main__":
    main()
