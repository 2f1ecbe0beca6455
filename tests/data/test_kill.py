"""Kill -9 a real `python -m kit.data.sync` midway (upload, then download), rerun: it resumes,
the result is byte-identical, and nothing was published while it was half done."""

from __future__ import annotations

import filecmp
import json
import os
import signal
import subprocess
import sys
import time

from kit.data import storage
from kit.data.manifest import MANIFEST, read_local
from kit.data.sync import sync

MiB = 1 << 20
SIZE = 60 * MiB + 12345  # 13 parts of 5 MiB: enough that a kill lands in the middle


def start_sync(src: str, dest: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kit.data.sync", src, dest, "--workers", "1",
                             "--part-size-mib", "5"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def kill_when(proc: subprocess.Popen, ready, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"sync finished before it could be killed: {proc.communicate()}"
        if ready():
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return
        time.sleep(0.01)
    proc.kill()
    raise AssertionError("sync made no progress")


def test_killed_upload_resumes_byte_identical(s3, tmp_path):
    import boto3

    src = tmp_path / "src"
    src.mkdir()
    (src / "weights.safetensors").write_bytes(os.urandom(SIZE))
    (src / "config.json").write_text("{}")
    bucket, _, prefix = s3.uri[len("s3://"):].partition("/")
    client = boto3.client("s3")
    key = f"{prefix}/weights.safetensors"

    def parts_stored() -> bool:
        uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
        return any(len(client.list_parts(Bucket=bucket, Key=key, UploadId=u["UploadId"])
                       .get("Parts", [])) >= 3 for u in uploads)

    kill_when(start_sync(str(src), s3.uri, s3.env()), parts_stored)
    store = storage.open_store(s3.uri)
    assert store.stat(MANIFEST) is None  # nothing published: readers see no dataset
    assert store.stat("weights.safetensors") is None  # and no half-written object

    result = sync(str(src), s3.uri, workers=4, part_size=5 * MiB)
    assert result.resumed_parts >= 3 and result.bytes <= SIZE - 3 * 5 * MiB + 2
    dest = tmp_path / "dest"
    sync(s3.uri, str(dest), require_manifest=True)
    assert filecmp.cmp(src / "weights.safetensors", dest / "weights.safetensors", shallow=False)


def test_killed_download_resumes_byte_identical(s3, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "weights.safetensors").write_bytes(os.urandom(SIZE))
    sync(str(src), s3.uri, part_size=16 * MiB)
    dest = tmp_path / "dest"
    journal = dest / ".kit-tmp" / "weights.safetensors.kit-journal"

    def ranges_done() -> bool:
        try:
            return len(json.loads(journal.read_text())["done"]) >= 3
        except (OSError, ValueError, KeyError):
            return False

    kill_when(start_sync(s3.uri, str(dest), s3.env()), ranges_done)
    assert read_local(dest) is None and not (dest / "weights.safetensors").exists()

    proc = subprocess.run([sys.executable, "-m", "kit.data.sync", s3.uri, str(dest), "--json",
                           "--part-size-mib", "5"], env=s3.env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["resumed_parts"] >= 3 and result["bytes"] <= SIZE - 3 * 5 * MiB
    assert filecmp.cmp(src / "weights.safetensors", dest / "weights.safetensors", shallow=False)
    assert read_local(dest).files["weights.safetensors"].size == SIZE
    assert not (dest / ".kit-tmp").exists()
