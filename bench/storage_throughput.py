"""Benchmark: storing and reading files of 1 MB and 20 MB in the local directory and in an S3-compatible store.

    uv run python bench/storage_throughput.py [--count 10] [--endpoint http://127.0.0.1:9000 --bucket libcoop]

Without --endpoint, moto's standalone S3 server is started on loopback (a Python emulation: its numbers say what the
client side costs, not what MinIO or AWS would do; point --endpoint at a real store, with COOP_S3_ACCESS_KEY_ID and
COOP_S3_SECRET_ACCESS_KEY, for those). Each file is distinct (content-addressed stores skip a second copy), written
through `Storage.put` (checked against its name) and read back through `Storage.chunks` (streamed, as downloads are).
Not a test: numbers depend on the machine.
"""

import argparse
import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cooperation import files
from cooperation.settings import Settings


def moto_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, endpoint
        except OSError:
            time.sleep(0.1)
    sys.exit("moto_server did not start")


async def measure(store: files.Storage, size: int, count: int) -> tuple[float, float]:
    """(MB/s written, MB/s read) for `count` distinct files of `size` bytes."""
    blobs = [os.urandom(size) for _ in range(count)]
    digests = [hashlib.sha256(blob).hexdigest() for blob in blobs]
    started = time.perf_counter()
    for digest, blob in zip(digests, blobs, strict=True):
        await store.put(digest, blob)
    written = time.perf_counter() - started
    started = time.perf_counter()
    for digest in digests:
        async for _ in store.chunks(digest):
            pass
    read = time.perf_counter() - started
    megabytes = size * count / 1_000_000
    return megabytes / written, megabytes / read


async def run(args: argparse.Namespace, endpoint: str, bucket: str) -> None:
    with tempfile.TemporaryDirectory() as work:
        settings = Settings(environment="test", data_dir=Path(work))
        s3 = replace(
            settings,
            storage_url=f"s3://{bucket}/bench",
            s3_endpoint=endpoint,
            s3_region="us-east-1",
            s3_access_key=os.environ.get("COOP_S3_ACCESS_KEY_ID", "test"),
            s3_secret_key=os.environ.get("COOP_S3_SECRET_ACCESS_KEY", "test"),
        )
        for label, store in (("local directory", files.storage(settings)), (f"S3 at {endpoint}", files.storage(s3))):
            for size in (1_000_000, 20_000_000):
                put, get = await measure(store, size, args.count if size == 1_000_000 else max(2, args.count // 4))
                print(f"{label:>32}  {size // 1_000_000:>2} MB files: write {put:7.1f} MB/s, read {get:7.1f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--endpoint")
    parser.add_argument("--bucket", default="libcoop-bench")
    args = parser.parse_args()
    server = None
    endpoint = args.endpoint
    if endpoint is None:
        server, endpoint = moto_server()
    try:
        keys = {"aws_access_key_id": os.environ.get("COOP_S3_ACCESS_KEY_ID", "test")}
        keys["aws_secret_access_key"] = os.environ.get("COOP_S3_SECRET_ACCESS_KEY", "test")
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys)
        if args.bucket not in [b["Name"] for b in client.list_buckets().get("Buckets", [])]:
            client.create_bucket(Bucket=args.bucket)
        asyncio.run(run(args, endpoint, args.bucket))
    finally:
        if server is not None:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
