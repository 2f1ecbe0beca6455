"""Sync throughput: `kit.data.sync` (bucket -> local folder) against a plain boto3
`download_file` loop over the same objects, on a moto S3 server on loopback.

    python bench/sync_throughput.py [--small 64] [--large 4] [--large-mib 48] [--workers 8]

Starts its own moto server on a free 127.0.0.1 port, uploads the objects once, then prints
MB/s for both and the ratio (the goal is >= 2x). Loopback only; it stops by itself.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
MiB = 1 << 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto(port: int) -> subprocess.Popen:
    moto = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto_server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=64, help="objects of 1 MiB")
    parser.add_argument("--large", type=int, default=4, help="large objects")
    parser.add_argument("--large-mib", type=int, default=48)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    port = free_port()
    os.environ.update({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
                       "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"})
    proc = start_moto(port)
    tmp = Path(tempfile.mkdtemp(prefix="kit-sync-bench-"))
    try:
        import boto3

        from kit.data.sync import sync

        src = tmp / "src"
        src.mkdir()
        for i in range(args.small):
            (src / f"small-{i:03d}.bin").write_bytes(os.urandom(MiB))
        for i in range(args.large):
            (src / f"large-{i}.safetensors").write_bytes(os.urandom(args.large_mib * MiB))
        total = sum(p.stat().st_size for p in src.iterdir())
        boto3.client("s3").create_bucket(Bucket="bench")
        sync(str(src), "s3://bench/set", workers=args.workers)
        shutil.rmtree(src)

        client = boto3.client("s3")
        keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
            Bucket="bench", Prefix="set/") for o in page.get("Contents", [])]
        plain = tmp / "plain"
        plain.mkdir()
        start = time.perf_counter()
        for key in keys:
            client.download_file("bench", key, str(plain / Path(key).name))
        base = time.perf_counter() - start
        start = time.perf_counter()
        result = sync("s3://bench/set", str(tmp / "kit"), workers=args.workers)
        ours = time.perf_counter() - start
        assert result.bytes == total, (result.bytes, total)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    mb = total / 1e6
    print(f"objects: {args.small} x 1 MiB + {args.large} x {args.large_mib} MiB = {mb:.0f} MB "
          f"(moto on loopback, {os.cpu_count()} cores)")
    print(f"boto3 download_file loop: {mb / base:7.1f} MB/s ({base:.2f}s)")
    print(f"kit.data.sync ({args.workers} workers): {mb / ours:7.1f} MB/s ({ours:.2f}s), "
          f"sha256-verified, with manifest")
    print(f"speed-up: {base / ours:.2f}x")


if __name__ == "__main__":
    main()
