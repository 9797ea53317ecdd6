"""Local folder storage: containment (symlinks included), atomic writes, folders."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anythingllm_bridge.checksum import READ_SIZE
from anythingllm_bridge.errors import (
    StorageConfigError,
    StorageError,
    StorageFileNotFoundError,
    StorageKeyError,
    StoragePermissionError,
)
from anythingllm_bridge.storage import LocalStorageClient
from support import python_where_file_modes_apply


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder`` with its content (files) or link target (symlinks)."""
    found: dict[str, bytes | str] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root, name)
            rel = str(path.relative_to(folder))
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                found[rel] = path.read_bytes()
            else:
                found[rel] = "dir"
    return found


async def test_keys_become_nested_files_under_the_base_path(tmp_path: Path) -> None:
    store = LocalStorageClient(tmp_path / "a" / "b")  # created on demand
    await store.put_stream("x/y/z.txt", [b"data"])
    assert (tmp_path / "a" / "b" / "x" / "y" / "z.txt").read_bytes() == b"data"
    assert store.base_path == tmp_path / "a" / "b"
    assert "LocalStorageClient" in repr(store)


async def test_an_unusable_base_path_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageConfigError, match="storage folder"):
        LocalStorageClient(tmp_path / "file" / "sub")


async def test_a_key_and_a_folder_of_the_same_name_conflict(tmp_path: Path) -> None:
    store = LocalStorageClient(tmp_path)
    await store.put_stream("a", [b"object"])
    with pytest.raises(StorageKeyError, match="already an object"):
        await store.put_stream("a/b", [b"x"])
    await store.put_stream("d/e", [b"x"])
    with pytest.raises(StorageKeyError, match="folder"):
        await store.put_stream("d", [b"x"])
    with pytest.raises(StorageFileNotFoundError):
        _ = [chunk async for chunk in store.open_read("d")]
    assert await store.list_files() == ["a", "d/e"]


async def test_the_temporary_name_prefix_is_reserved_and_hidden(tmp_path: Path) -> None:
    store = LocalStorageClient(tmp_path)
    with pytest.raises(StorageKeyError, match="reserved"):
        await store.put_stream("x/.allm-tmp-1234", [b"x"])
    (tmp_path / ".allm-tmp-left-by-a-crash").write_bytes(b"half")
    await store.put_stream("real.txt", [b"x"])
    assert await store.list_files() == ["real.txt"]


async def test_an_interrupted_upload_leaves_no_file_at_all(tmp_path: Path) -> None:
    store = LocalStorageClient(tmp_path / "store")

    async def dies() -> AsyncIterator[bytes]:
        yield b"x" * 100_000
        raise OSError("disk on fire")  # a raw error from the source is the caller's, not storage's

    with pytest.raises(OSError, match="disk on fire"):
        await store.put_stream("deep/folder/f.bin", dies())
    assert snapshot(tmp_path / "store") == {"deep": "dir", "deep/folder": "dir"}  # not even a temp file


async def test_files_no_key_can_name_are_not_listed(tmp_path: Path) -> None:
    store = LocalStorageClient(tmp_path)
    (tmp_path / "back\\slash.txt").write_bytes(b"x")
    (tmp_path / "ok.txt").write_bytes(b"x")
    assert await store.list_files() == ["ok.txt"]


async def test_unreadable_objects_are_permission_errors(tmp_path: Path) -> None:
    store = LocalStorageClient(tmp_path)
    await store.put_stream("secret.txt", [b"x"])
    (tmp_path / "secret.txt").chmod(0)
    read = await asyncio.to_thread(
        python_where_file_modes_apply,  # even when the suite runs as root
        "import asyncio, sys\n"
        "from anythingllm_bridge.storage import LocalStorageClient\n"
        "async def read():\n"
        "    try:\n"
        "        _ = [c async for c in LocalStorageClient(sys.argv[1]).open_read('secret.txt')]\n"
        "    except Exception as exc:\n"
        "        print(type(exc).__name__)\n"
        "asyncio.run(read())\n",
        str(tmp_path),
    )
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == StoragePermissionError.__name__


async def test_without_fsync_writes_are_still_atomic(tmp_path: Path) -> None:
    store = LocalStorageClient(tmp_path, fsync=False)
    stored = await store.put_stream("k", [b"abc"])
    assert stored.size == 3
    assert (tmp_path / "k").read_bytes() == b"abc"


# ---------------------------------------------------------------------- symlinks


def plant(root: Path) -> tuple[Path, Path]:
    """A storage folder under ``root`` with symlinks planted inside it, some leading outside; and the
    outside."""
    base, outside = root / "base", root / "outside"
    base.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"SECRET")
    (base / "inside.txt").write_bytes(b"inside")
    (base / "sub").mkdir()
    (base / "out").symlink_to(outside)  # folder link leading out
    (base / "sub" / "escape").symlink_to("../../outside")  # relative link leading out
    (base / "file_link").symlink_to(outside / "secret.txt")  # file link leading out
    (base / "sub" / "up").symlink_to("..")  # a link that stays inside
    (base / "alias.txt").symlink_to("inside.txt")  # a file link that stays inside
    return base, outside


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path]:
    return plant(tmp_path)


@pytest.mark.parametrize("key", ["out/secret.txt", "out/new.txt", "sub/escape/secret.txt", "file_link"])
async def test_symlinks_leading_outside_are_refused_before_anything_is_touched(
    planted: tuple[Path, Path], key: str, tmp_path: Path
) -> None:
    base, _ = planted
    store = LocalStorageClient(base)
    before = snapshot(tmp_path)
    for attempt in [
        store.put_stream(key, [b"pwned"]),
        store.file_exists(key),
        store.delete_file(key),
        store.get_file_url(key),
        store.download_file(key, tmp_path / "dl.txt"),
    ]:
        with pytest.raises(StorageKeyError, match="outside"):
            await attempt
    with pytest.raises(StorageKeyError):
        store.open_read(key)
    assert snapshot(tmp_path) == before


async def test_links_that_stay_inside_work_and_outside_links_are_not_listed(
    planted: tuple[Path, Path],
) -> None:
    base, _ = planted
    store = LocalStorageClient(base)
    assert b"".join([c async for c in store.open_read("alias.txt")]) == b"inside"
    assert b"".join([c async for c in store.open_read("sub/up/inside.txt")]) == b"inside"
    assert await store.list_files() == ["alias.txt", "inside.txt"]
    with pytest.raises(StorageKeyError, match="outside"):
        await store.list_files("out/")
    await store.put_stream("alias.txt", [b"replaced"])  # replaces the link, not its target
    assert not (base / "alias.txt").is_symlink()
    assert (base / "inside.txt").read_bytes() == b"inside"


# ---------------------------------------------------------------------- property: containment

_segments = st.sampled_from(
    ["out", "sub", "up", "escape", "file_link", "alias.txt", "inside.txt", "..", ".", "", "a", "b.txt",
     "C:", "c:", "\\", "..\\..", "~", "%2e%2e", "\x00", "\n", "\x7f", "\x85", "\u2028", "é", " ", "..."]
)  # fmt: skip
_keys = st.one_of(
    st.lists(_segments, min_size=1, max_size=5).map("/".join),
    st.lists(_segments, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts)),
    st.text(max_size=30),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=_keys)
def test_no_key_ever_reads_or_writes_outside_the_base_path(key: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base, outside = plant(root)
        source = root / "source.txt"
        source.write_bytes(b"PAYLOAD")
        outside_before = snapshot(outside)
        real_base = os.path.realpath(base)

        async def scenario() -> list[str]:
            store = LocalStorageClient(base)
            outcomes: list[object] = []
            urls: list[str] = []
            for op in ("put", "upload", "read", "url", "exists", "download", "list", "delete"):
                try:
                    if op == "put":
                        outcomes.append(await store.put_stream(key, [b"PAYLOAD"]))
                    elif op == "upload":
                        outcomes.append(await store.upload_file(source, key))
                    elif op == "read":
                        data = b"".join([c async for c in store.open_read(key)])
                        assert b"SECRET" not in data
                    elif op == "url":
                        urls.append(await store.get_file_url(key))
                    elif op == "exists":
                        await store.file_exists(key)
                    elif op == "download":
                        await store.download_file(key, root / "downloaded")
                        assert b"SECRET" not in (root / "downloaded").read_bytes()
                    elif op == "list":
                        await store.list_files(key)
                    else:
                        await store.delete_file(key)
                except (StorageError, ValueError):
                    pass  # refusing is always allowed; escaping never is
            return urls

        for url in asyncio.run(scenario()):
            assert os.path.realpath(url2pathname(urlparse(url).path)).startswith(real_base + os.sep)
        assert snapshot(outside) == outside_before
        for path in root.rglob("*"):  # every new file is inside base (or the download target)
            if path.is_file() and not path.is_symlink():
                assert os.path.realpath(path).startswith(real_base + os.sep) or path.parent in (
                    root,
                    outside,
                ), path
        shutil.rmtree(base)


async def test_files_of_many_blocks_round_trip_exactly(tmp_path: Path) -> None:
    data = os.urandom(3 * READ_SIZE + 123)  # several blocks of the copy, and a ragged end
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    store = LocalStorageClient(tmp_path / "store")
    stored = await store.upload_file(source, "big.bin")
    assert (stored.size, stored.checksum) == (len(data), hashlib.sha256(data).hexdigest())
    assert stored.checksum_algorithm == "sha256"
    back = await store.download_file("big.bin", tmp_path / "back" / "big.bin")
    assert back.read_bytes() == data
    assert sorted(p.name for p in back.parent.iterdir()) == ["big.bin"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
async def test_an_upload_cancelled_mid_copy_stores_nothing_and_lets_go_of_its_source(tmp_path: Path) -> None:
    source = tmp_path / "source.pipe"  # a source that delivers its bytes only as the test writes them
    os.mkfifo(source)
    store = LocalStorageClient(tmp_path / "store")
    await store.put_stream("k", [b"old"])
    upload = asyncio.create_task(store.upload_file(source, "k"))
    writer = await asyncio.to_thread(os.open, source, os.O_WRONLY)  # once the upload opened it
    # Returns once the copy has read all but a pipe's worth of it: the copy is under way.
    await asyncio.to_thread(os.write, writer, b"new" * READ_SIZE)
    upload.cancel()
    await asyncio.sleep(0)  # the upload takes its cancellation
    os.close(writer)  # the copy reads on, sees it was cancelled and cleans up
    with pytest.raises(asyncio.CancelledError):
        await upload
    assert b"".join([chunk async for chunk in store.open_read("k")]) == b"old"
    assert os.listdir(tmp_path / "store") == ["k"]  # no temporary file left
    with pytest.raises(OSError, match="No such device") as nobody_reads:  # the upload closed its end:
        os.open(source, os.O_WRONLY | os.O_NONBLOCK)  # a pipe has no writer without a reader
    assert nobody_reads.value.errno == errno.ENXIO
