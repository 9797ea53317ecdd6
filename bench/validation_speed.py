"""Validation cost does not grow with file size: 1,000 files of 100 MiB vs 1,000 files of 4 KiB.

Creates both sets (the big files sparse: content at the head and at the tail, a hole between),
an equal share of each of ``--kinds`` (PDF, CSV, JSON, TXT and DOCX by default), all valid. A DOCX
is a real ZIP container: its small members first, then one stored member filling the file (the
hole), then the central directory. Then, ``--rounds`` times, validates each set
with ``FileValidator.validate_multiple_files`` (a first, untimed pass warms the page cache for
both). Reports the median time per set, the ratio big/small (target ≤ 1.5), and the bytes read
per file, counted two ways: the validator's own count (``FileVerdict.bytes_read``) and this
process's ``rchar`` from ``/proc/self/io`` (every byte returned by read/pread system calls)
around the timed runs. Target: ≤ 64 KiB per file. Everything is deleted at the end.

    .venv/bin/python bench/validation_speed.py
    .venv/bin/python bench/validation_speed.py --files 200 --rounds 5
    .venv/bin/python bench/validation_speed.py --kinds pdf,csv,json,txt   # no ZIP container
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
import zipfile
from pathlib import Path
from typing import IO

from anythingllm_bridge.validation import FileValidator

KIB = 1024
MIB = 1024 * KIB

_HEADS = {
    "pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n",
    "csv": b"id,name,amount\n" + b"".join(b"%d,name %d,%d.50\n" % (i, i, i) for i in range(100)),
    "json": b'[\n  {"id": 0, "name": "first"},\n',
    "txt": "Plain text, UTF-8: naïve café ☕\n".encode() * 20,
}
_TAILS = {
    "pdf": b"\ntrailer << /Root 1 0 R >>\nstartxref\n0\n%%EOF\n",
    "csv": b"99999,last row,1.00\n",
    "json": b'  {"id": 99999, "name": "last"}\n]\n',
    "txt": b"The end.\n",
}


def ends(kind: str, size: int) -> tuple[bytes, bytes]:
    """The real bytes at each end of a valid text file of ``size`` bytes (64 KiB at most each)."""
    head, tail = _HEADS[kind], _TAILS[kind]
    filler = {"pdf": b"%", "csv": b"1,x,2\n", "json": b' {"id": 1},\n', "txt": b"words "}[kind]
    block = min(size // 2, 64 * KIB)
    start = head + filler * ((block - len(head)) // len(filler))
    start += b" " * (block - len(start))  # (white space fits every one of these formats)
    end = filler * ((block - len(tail)) // len(filler)) + tail
    end = b" " * (block - len(end)) + end
    return start, end


def make_file(path: Path, size: int, start: bytes, end: bytes) -> None:
    """A file of ``size`` bytes: ``start``, a hole (a sparse file), ``end``."""
    with path.open("wb") as out:
        out.write(start)
        out.seek(size - len(end))
        out.write(end)


class _SparseWriter:
    """A binary file for ``zipfile`` to write to that skips blocks of zeros, leaving a hole."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out

    def write(self, data: bytes) -> int:
        if data.count(0) == len(data):
            self._out.seek(len(data), os.SEEK_CUR)
        else:
            self._out.write(data)
        return len(data)

    def tell(self) -> int:
        return self._out.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._out.seek(offset, whence)

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        """The file stays open: its owner closes it."""


def write_docx(out: IO[bytes], filler: int) -> None:
    """A valid DOCX whose last member is ``filler`` stored zero bytes (a hole on disk)."""
    with zipfile.ZipFile(_SparseWriter(out), "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("_rels/.rels", b"<Relationships/>")
        archive.writestr("word/document.xml", b"<w:document>" + b"<w:p>words</w:p>" * 50 + b"</w:document>")
        member = zipfile.ZipInfo("word/media/filler.bin")
        member.file_size = filler
        with archive.open(member, "w") as data:
            chunk = bytes(1024 * KIB)
            for start in range(0, filler, len(chunk)):
                data.write(chunk[: filler - start])


def docx_template(folder: Path, size: int) -> tuple[bytes, bytes]:
    """The real bytes at each end (64 KiB at most) of a ``size``-byte DOCX, built once per size."""
    path = folder / f"template-{size}.docx"
    with path.open("wb") as out:
        write_docx(out, 0)
        overhead = out.tell()
    with path.open("wb") as out:
        write_docx(out, size - overhead)
    data_size = path.stat().st_size
    with path.open("rb") as done:
        block = min(data_size // 2, 64 * KIB)
        head = done.read(block)
        done.seek(data_size - block)
        tail = done.read()
    path.unlink()
    assert data_size == size, (data_size, size)
    return head, tail


def rchar() -> int:
    with open("/proc/self/io", encoding="ascii") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("rchar:"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--kinds", default="pdf,csv,json,txt,docx", help="comma-separated, from the default")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    work = Path(tempfile.mkdtemp(prefix="allm-bench-", dir=args.dir))
    validator = FileValidator(max_file_size=100 * MIB, allowed_file_types=kinds)
    try:
        sets: dict[str, list[Path]] = {}
        for label, size in (("4 KiB", 4 * KIB), ("100 MiB", 100 * MIB)):
            folder = work / label.replace(" ", "")
            folder.mkdir()
            sets[label] = []
            blocks = {kind: ends(kind, size) for kind in kinds if kind != "docx"}
            if "docx" in kinds:
                blocks["docx"] = docx_template(work, size)
            for i in range(args.files):
                kind = kinds[i % len(kinds)]
                path = folder / f"file-{i:04d}.{kind}"
                make_file(path, size, *blocks[kind])
                sets[label].append(path)

        results: dict[str, dict[str, float]] = {}
        for label, paths in sets.items():
            _, invalid = validator.validate_multiple_files(paths)  # warm-up; and all must pass
            assert not invalid, invalid[:3]
            verdicts = [validator.inspect(path) for path in paths]
            counted = [v.bytes_read for v in verdicts]
            times = []
            before = rchar()
            for _ in range(args.rounds):
                start = time.perf_counter()
                validator.validate_multiple_files(paths)
                times.append(time.perf_counter() - start)
            syscall_bytes = (rchar() - before) / (args.rounds * len(paths))
            results[label] = {
                "median": statistics.median(times),
                "min": min(times),
                "max_counted": max(counted),
                "mean_counted": statistics.mean(counted),
                "rchar": syscall_bytes,
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    machine = f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(f"{machine}, {args.files} files per set ({', '.join(kinds)})")
    print(f"{'set':8} {'median s':>9} {'min s':>7} {'µs/file':>8} {'max read/file':>14} {'rchar/file':>11}")
    for label, r in results.items():
        print(
            f"{label:8} {r['median']:9.3f} {r['min']:7.3f} {r['median'] / args.files * 1e6:8.0f} "
            f"{r['max_counted'] / KIB:11.1f} KiB {r['rchar'] / KIB:7.1f} KiB"
        )
    ratio = results["100 MiB"]["median"] / results["4 KiB"]["median"]
    print(f"ratio 100 MiB / 4 KiB (median): {ratio:.2f}  (target ≤ 1.5)")


if __name__ == "__main__":
    main()
