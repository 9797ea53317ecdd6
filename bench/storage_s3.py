"""S3 upload of a large file with bounded memory, against moto's S3 server on 127.0.0.1.

moto runs in a *separate process* (``python -m moto.server``), so its copy of the object does not
count in this process's memory. A file (default 1 GiB, sparse: S3 neither knows nor cares) is
uploaded with ``S3StorageClient.upload_file`` — a multipart upload of 8 MiB parts, 4 in flight —
then read back with ``open_read`` and compared by SHA-256. Reports time, throughput and the growth
of this process's peak RSS (``ru_maxrss``) during the upload and during the download.

    .venv/bin/python bench/storage_s3.py                # 1 GiB
    .venv/bin/python bench/storage_s3.py --mib 256
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from anythingllm_bridge.storage import S3StorageClient

MIB = 1024 * 1024


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def run(url: str, source: Path, size: int) -> None:
    client = S3StorageClient(
        "bench-bucket", endpoint_url=url, access_key_id="bench", secret_access_key="bench"
    )
    async with client:
        await client.put_stream("warm-up", [b"x"])  # client start-up outside the measurement
        print(f"peak RSS before: {peak_rss_mib():.1f} MiB")
        before = peak_rss_mib()
        start = time.perf_counter()
        stored = await client.upload_file(source, "big/file.bin")
        upload_s = time.perf_counter() - start
        upload_growth = peak_rss_mib() - before

        start = time.perf_counter()
        digest = hashlib.sha256()
        async for chunk in client.open_read("big/file.bin"):
            digest.update(chunk)
        download_s = time.perf_counter() - start
        download_growth = peak_rss_mib() - before - upload_growth
    assert stored.size == size, stored
    assert digest.hexdigest() == stored.checksum, "read back differs"
    mib = size / MIB
    rows = (("upload", upload_s, upload_growth), ("download", download_s, download_growth))
    for name, seconds, growth in rows:
        print(f"{name:9} {seconds:7.2f} s {mib / seconds:6.0f} MiB/s, peak RSS growth {growth:5.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.mib * MIB
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with tempfile.TemporaryDirectory(prefix="allm-bench-") as folder:
        try:
            wait_until_up(url)
            import boto3  # only to create the bucket

            boto3.client(
                "s3",
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id="b",
                aws_secret_access_key="b",
            ).create_bucket(Bucket="bench-bucket")
            source = Path(folder) / "big.bin"
            with source.open("wb") as out:
                out.truncate(size)  # sparse
            machine = f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}"
            print(f"{machine}, {args.mib} MiB")
            asyncio.run(run(url, source, size))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
