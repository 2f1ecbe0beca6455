"""Sync against real protocol servers: round trips, idempotence, resume after an interruption,
manifest-last publishing, checksum checks, encryption and one-line errors."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
from pathlib import Path

import pytest

from kit.data import storage
from kit.data.manifest import read_local
from kit.data.sync import sync
from kit.errors import KitError

MiB = 1 << 20
PART = 5 * MiB  # S3's smallest part: the same for every backend keeps the tests alike


def make_tree(root: Path, big: int = 12 * MiB) -> Path:
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "a.jsonl").write_text('{"messages": []}\n')
    (root / "nested" / "b.txt").write_bytes(b"hello\n" * 1000)
    (root / "nested" / "deeper" / "empty.bin").write_bytes(b"")
    (root / "big.bin").write_bytes(os.urandom(big))
    (root / ".hidden").write_text("not data")
    return root


def same_tree(a: Path, b: Path) -> None:
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*")
                   if p.is_file() and not storage.is_hidden(p.relative_to(a).as_posix()))
    copied = sorted(p.relative_to(b).as_posix() for p in b.rglob("*")
                    if p.is_file() and not storage.is_hidden(p.relative_to(b).as_posix()))
    assert files == copied
    for name in files:
        assert filecmp.cmp(a / name, b / name, shallow=False), name


def test_round_trip_is_byte_identical_and_idempotent(remote, tmp_path):
    src = make_tree(tmp_path / "src")
    up = sync(str(src), remote.uri, part_size=PART)
    assert (up.files, up.transferred, up.skipped) == (4, 4, 0)
    assert up.bytes == sum(p.stat().st_size for p in src.rglob("*") if p.is_file() and p.name != ".hidden")
    store = storage.open_store(remote.uri)
    published = storage.read_manifest(store)
    assert published is not None and set(published.files) == {
        "a.jsonl", "nested/b.txt", "nested/deeper/empty.bin", "big.bin"}
    assert published.files["big.bin"].sha256 == hashlib.sha256((src / "big.bin").read_bytes()).hexdigest()
    assert store.stat("big.bin").sha256 == published.files["big.bin"].sha256

    down = sync(remote.uri, str(tmp_path / "dest"), part_size=PART, require_manifest=True)
    assert down.transferred == 4 and down.manifest.fingerprint == up.manifest.fingerprint
    same_tree(src, tmp_path / "dest")
    assert read_local(tmp_path / "dest").fingerprint == up.manifest.fingerprint
    assert not (tmp_path / "dest" / ".kit-tmp").exists()

    again_up = sync(str(src), remote.uri, part_size=PART)
    again_down = sync(remote.uri, str(tmp_path / "dest"), part_size=PART)
    assert (again_up.transferred, again_up.skipped, again_up.bytes) == (0, 4, 0)
    assert (again_down.transferred, again_down.skipped, again_down.bytes) == (0, 4, 0)

    (src / "a.jsonl").write_text('{"messages": [1]}\n')  # one changed file moves alone
    changed = sync(str(src), remote.uri, part_size=PART)
    assert (changed.transferred, changed.bytes) == (1, (src / "a.jsonl").stat().st_size)
    assert sync(remote.uri, str(tmp_path / "dest"), part_size=PART).transferred == 1
    same_tree(src, tmp_path / "dest")


class Crash(Exception):
    pass


def crash_after(obj, method: str, calls: int, monkeypatch) -> None:
    """Make obj.method fail on its (calls+1)-th call, as a killed process would stop."""
    real = getattr(obj, method)
    seen = {"n": 0}

    def wrapper(*args, **kwargs):
        seen["n"] += 1
        if seen["n"] > calls:
            raise Crash(method)
        return real(*args, **kwargs)

    monkeypatch.setattr(obj, method, wrapper)


def sync_killed_after_two_parts(src: str, uri: str) -> None:
    """`sync` SRC to URI stopped as a killed process would be: after two parts of an upload."""
    store = storage.open_store(uri, workers=1)
    real_begin = store.begin
    with pytest.MonkeyPatch.context() as mp:
        def begin(*args, **kwargs):
            upload = real_begin(*args, **kwargs)
            crash_after(upload, "put_part", 2, mp)
            return upload

        mp.setattr(store, "begin", begin)
        mp.setattr(storage, "open_store", lambda *a, **k: store)
        with pytest.raises(Crash):
            sync(src, uri, workers=1, part_size=PART)


def test_interrupted_upload_resumes_and_no_reader_sees_it(remote, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.safetensors").write_bytes(os.urandom(4 * PART + 123))
    sync_killed_after_two_parts(str(src), remote.uri)

    assert storage.read_manifest(storage.open_store(remote.uri)) is None
    with pytest.raises(KitError, match="no .kit-manifest.json"):
        sync(remote.uri, str(tmp_path / "reader"), require_manifest=True)

    result = sync(str(src), remote.uri, workers=2, part_size=PART)
    assert result.resumed_parts == 2
    assert result.bytes == (src / "model.safetensors").stat().st_size - 2 * PART
    if remote.server.scheme == "gs":  # parts are composed, then deleted
        gcs = storage.open_store(remote.uri)
        assert not list(gcs.client.list_blobs(gcs.bucket, prefix=gcs.full(".kit-parts/")))
    sync(remote.uri, str(tmp_path / "dest"), require_manifest=True)
    same_tree(src, tmp_path / "dest")


def test_interrupted_download_resumes(remote, tmp_path):
    src = make_tree(tmp_path / "src", big=4 * PART)
    sync(str(src), remote.uri, part_size=PART)
    store = storage.open_store(remote.uri, workers=1)
    dest = tmp_path / "dest"
    with pytest.MonkeyPatch.context() as mp:
        crash_after(store, "read", 4, mp)  # manifest + 3 ranges, then the "kill"
        mp.setattr(storage, "open_store", lambda *a, **k: store)
        with pytest.raises(Crash):
            sync(remote.uri, str(dest), workers=1, part_size=PART)
    assert read_local(dest) is None  # a half-synced folder has no manifest
    assert not [p for p in dest.iterdir() if not p.name.startswith(".")]  # nor visible files

    result = sync(remote.uri, str(dest), workers=3, part_size=PART)
    assert result.resumed_parts >= 1 and result.transferred == 4
    same_tree(src, dest)


def test_source_without_manifest_is_listed_and_tracked_by_etag(remote, tmp_path):
    store = storage.open_store(remote.uri)
    store.put("x/one.jsonl", b'{"a": 1}\n')  # a customer's bucket: no sha256, no manifest
    store.put("two.csv", b"prompt,response\nq,a\n")
    store.put(".kit-parts/ignored", b"staging")
    dest = tmp_path / "dest"
    first = sync(remote.uri, str(dest))
    assert first.transferred == 2 and (dest / "x" / "one.jsonl").read_bytes() == b'{"a": 1}\n'
    entry = read_local(dest).files["two.csv"]
    assert entry.sha256 == hashlib.sha256(b"prompt,response\nq,a\n").hexdigest() and entry.etag
    assert sync(remote.uri, str(dest)).transferred == 0
    store.put("two.csv", b"prompt,response\nq,b\n")
    assert sync(remote.uri, str(dest)).transferred == 1
    assert (dest / "two.csv").read_bytes().endswith(b"q,b\n")


def test_changed_object_fails_the_checksum(remote, tmp_path):
    src = make_tree(tmp_path / "src", big=10)
    sync(str(src), remote.uri)
    store = storage.open_store(remote.uri)
    store.put("nested/b.txt", b"x" * 6000)  # same size, other bytes
    with pytest.raises(KitError, match="nested/b.txt: sha256 does not match the manifest"):
        sync(remote.uri, str(tmp_path / "dest"))
    assert read_local(tmp_path / "dest") is None
    store.put("nested/b.txt", b"shorter")
    with pytest.raises(KitError, match="nested/b.txt: changed since it was listed or published"):
        sync(remote.uri, str(tmp_path / "dest"))
    assert read_local(tmp_path / "dest") is None and not (tmp_path / "dest" / "nested").exists()


def test_republish_overwrites_and_deletes_nothing_and_readers_keep_the_old_set(remote, tmp_path):
    """A bucket publish creates only: an interrupted republish leaves the old set whole for
    readers, and the next one completes without replacing or deleting any object."""
    src = make_tree(tmp_path / "src", big=10)
    sync(str(src), remote.uri)
    old = (src / "a.jsonl").read_bytes()
    (src / "a.jsonl").write_text("changed\n")
    store = storage.open_store(remote.uri)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(storage, "open_store", lambda *a, **k: store)
        for method in ("put", "delete"):  # no overwrite, no delete permission
            mp.setattr(store, method, lambda key, *a, m=method: pytest.fail(f"{m} {key}"))
        crash_after(store, "create", 0, mp)  # killed before the changed file is stored
        with pytest.raises(Crash):
            sync(str(src), remote.uri)
        sync(remote.uri, str(tmp_path / "reader"), require_manifest=True)
        assert (tmp_path / "reader" / "a.jsonl").read_bytes() == old  # the old set, whole
        mp.undo()
        mp.setattr(storage, "open_store", lambda *a, **k: store)
        for method in ("put", "delete"):
            mp.setattr(store, method, lambda key, *a, m=method: pytest.fail(f"{m} {key}"))
        sync(str(src), remote.uri)   # the next publish completes the set
    assert store.read("a.jsonl") == old  # the name keeps its first bytes
    sync(remote.uri, str(tmp_path / "reader"), require_manifest=True)
    same_tree(src, tmp_path / "reader")


def test_local_to_local_and_bucket_to_bucket(moto, gcs, tmp_path, monkeypatch):
    for env in (moto.env, gcs.env):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
    src = make_tree(tmp_path / "src", big=3 * MiB)
    sync(str(src), f"file://{tmp_path / 'copy'}", part_size=MiB)
    same_tree(src, tmp_path / "copy")
    sync(str(tmp_path / "copy"), "s3://kit-test/b2b")
    result = sync("s3://kit-test/b2b", "gs://kit-test/b2b")
    assert result.files == 4
    sync("gs://kit-test/b2b", str(tmp_path / "back"))
    same_tree(src, tmp_path / "back")


def test_s3_server_side_encryption_with_customer_key(s3, tmp_path):
    import boto3

    key_id = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
    src = make_tree(tmp_path / "src", big=6 * MiB)
    sync(str(src), s3.uri, kms_key=key_id, part_size=PART)
    bucket, _, prefix = s3.uri[len("s3://"):].partition("/")
    client = boto3.client("s3")
    for name in ("a.jsonl", "big.bin", ".kit-manifests/000000000001.json"):
        head = client.head_object(Bucket=bucket, Key=f"{prefix}/{name}")
        assert head["ServerSideEncryption"] == "aws:kms", name
        assert head["SSEKMSKeyId"].endswith(key_id), name


def test_cli_errors_are_one_line(tmp_path, s3):
    import subprocess
    import sys

    def run(*args, env=None):
        return subprocess.run([sys.executable, "-m", "kit.data.sync", *args], capture_output=True,
                              text=True, env=env or s3.env(), timeout=60)

    cases = [
        (run(str(tmp_path / "missing"), s3.uri), "no such file or folder"),
        (run(str(tmp_path), "ftp://x/y"), "unsupported storage scheme 'ftp://'"),
        (run("s3://no-such-bucket-kit/x", str(tmp_path / "d")), "NoSuchBucket"),
        (run(f"{s3.uri}/nothing", str(tmp_path / "d"), "--require-manifest"), "no .kit-manifest.json"),
        (run("s3://kit-test/x", str(tmp_path / "d"),
             env={**s3.env(), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}), "cannot reach the S3 endpoint"),
    ]
    for proc, expected in cases:
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.startswith("error: ") and expected in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr

    src = make_tree(tmp_path / "src", big=10)
    ok = run(str(src), s3.uri, "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["files"] == 4


def test_resumed_s3_upload_of_other_content_is_redone(s3, tmp_path):
    """An interrupted upload of content A, then a file B sharing A's first parts: the parts are
    reused, the metadata (A's sha256) would be wrong, so the file is uploaded afresh beside it
    (never over it: a bucket publish creates only)."""
    src = tmp_path / "src"
    src.mkdir()
    head = os.urandom(2 * PART)
    (src / "w.bin").write_bytes(head + os.urandom(PART))
    sync_killed_after_two_parts(str(src), s3.uri)
    (src / "w.bin").write_bytes(head + os.urandom(PART))  # B: same first two parts
    result = sync(str(src), s3.uri, part_size=PART)
    assert result.resumed_parts == 2
    # create-only: the object completed under the name keeps A's metadata; B goes beside it
    sha = hashlib.sha256((src / "w.bin").read_bytes()).hexdigest()
    entry = storage.read_manifest(storage.open_store(s3.uri)).files["w.bin"]
    assert entry.sha256 == sha and storage.open_store(s3.uri).stat(entry.object).sha256 == sha
    sync(s3.uri, str(tmp_path / "dest"))
    same_tree(src, tmp_path / "dest")


@pytest.mark.parametrize("remote", ["gs", "az"], indirect=True)
def test_gcs_and_azure_send_the_customer_key(remote, tmp_path, monkeypatch):
    """The emulators accept but do not record CMEK settings, so check what goes on the wire:
    Cloud KMS key name on every GCS write (parts and compose), encryption scope on Azure."""
    src = make_tree(tmp_path / "src", big=6 * MiB)
    key = ("projects/p/locations/global/keyRings/r/cryptoKeys/k" if remote.server.scheme == "gs"
           else "customer-scope")
    store = storage.open_store(remote.uri, kms_key=key)
    sent: list[tuple[str, str, str]] = []  # (method, url, where the key was seen)
    if remote.server.scheme == "gs":
        session = store.client._http
        real = session.request

        def spy(method, url, *args, **kwargs):
            body = str(kwargs.get("data") or "")
            seen = ("query" if "kmsKeyName=" + key.replace("/", "%2F") in url
                    else "body" if f'"kmsKeyName": "{key}"' in body else "")
            sent.append((method, url, seen))
            return real(method, url, *args, **kwargs)

        monkeypatch.setattr(session, "request", spy)
    else:
        from azure.core.pipeline.transport import RequestsTransport

        real_send = RequestsTransport.send

        def send(self, request, **kwargs):
            scope = request.headers.get("x-ms-encryption-scope", "")
            sent.append((request.method, request.url, "header" if scope == key else ""))
            return real_send(self, request, **kwargs)

        monkeypatch.setattr(RequestsTransport, "send", send)
    monkeypatch.setattr(storage, "open_store", lambda *a, **k: store)
    sync(str(src), remote.uri, part_size=PART)
    writes = [(m, u, seen) for m, u, seen in sent if m in ("POST", "PUT")]
    assert len(writes) >= 5  # 3 small files + manifest + the parts of big.bin (+ compose)
    for method, url, seen in writes:
        # compose carries the key in the destination resource, uploads in the query, Azure in
        # a header on every block, blob and commit
        assert seen == ("body" if "/compose" in url else "query" if remote.server.scheme == "gs"
                        else "header"), (method, url)


def test_every_s3_call_on_a_kit_bucket_names_its_expected_owner(s3, tmp_path, monkeypatch):
    """A bucket name is global: each call on a kit bucket carries x-amz-expected-bucket-owner, so
    S3 refuses (403) a same-named bucket of another account. Buckets not listed carry none."""
    from kit.data.objects import OWNERS_ENV

    monkeypatch.setenv(OWNERS_ENV, json.dumps({"kit-test": "111122223333"}))
    store = storage.open_store(s3.uri + "/")
    sent: list[tuple[str, str | None]] = []
    store.client.meta.events.register(
        "before-send.s3", lambda request, **_: sent.append(
            (request.method, request.headers.get("x-amz-expected-bucket-owner"))))

    data = os.urandom(6 * MiB)
    upload = store.begin("big.bin", len(data), hashlib.sha256(data).hexdigest(), PART,
                         lambda i: data[i * PART:(i + 1) * PART])
    for index in range(upload.count):
        upload.put_part(index, data[index * PART:(index + 1) * PART])
    upload.finish()
    store.put("small.txt", b"hi")
    assert [o.key for o in store.list()] == ["big.bin", "small.txt"]
    assert store.read("small.txt") == b"hi" and store.stat("big.bin").size == len(data)
    store.delete("small.txt")
    methods = {method for method, _ in sent}
    assert {"GET", "HEAD", "PUT", "POST", "DELETE"} <= methods
    assert len(sent) >= 10 and {owner for _, owner in sent} == {b"111122223333"}

    monkeypatch.setenv(OWNERS_ENV, json.dumps({"another-bucket": "111122223333"}))
    other = storage.open_store(s3.uri + "/")
    sent.clear()
    other.client.meta.events.register(
        "before-send.s3", lambda request, **_: sent.append(
            (request.method, request.headers.get("x-amz-expected-bucket-owner"))))
    assert [o.key for o in other.list()] == ["big.bin"]
    assert sent and {owner for _, owner in sent} == {None}


def test_a_gcs_kit_bucket_of_another_project_is_refused_before_any_object_call(gcs, monkeypatch):
    """GCS has no per-call owner condition: the bucket's project number is read once when the
    store opens, and a bucket of that name in another project is refused."""
    import uuid

    from kit.data.objects import OWNERS_ENV

    for key, value in gcs.env.items():
        monkeypatch.setenv(key, value)
    uri = f"gs://kit-test/{uuid.uuid4().hex[:12]}/"
    monkeypatch.setenv(OWNERS_ENV, json.dumps({"kit-test": "1234"}))    # the emulator's project
    store = storage.open_store(uri)
    store.put("a.txt", b"hi")
    assert store.read("a.txt") == b"hi"
    monkeypatch.setenv(OWNERS_ENV, json.dumps({"kit-test": "999999999999"}))
    with pytest.raises(KitError, match=r"gs://kit-test belongs to project 1234, not 999999999999: "
                                       r"refused"):
        storage.open_store(uri)
