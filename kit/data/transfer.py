"""The transfer engine: local files -> Store (upload) and Store -> local folder (download).

Guarantees, the same for every backend:
- parallel: files and parts of large files run on one thread pool;
- checksummed: every file's sha256 is in the manifest and checked after download;
- resumable: an interrupted upload reuses the parts already stored (the backend checks them
  against this file's bytes); an interrupted download keeps its finished ranges in a journal
  under DEST/.kit-tmp and fetches only the rest;
- idempotent: unchanged files (same size and sha256) are skipped;
- atomic publish: the manifest is written last, so a reader trusting manifests never sees a
  half-written set. On a bucket nothing is written twice under one name (kit.data.published):
  a file whose name holds other bytes goes beside it, the manifest goes under a new name, so
  no identity needs to overwrite or delete, and an older manifest's set stays whole. In a local
  folder an old manifest is retracted before anything it names is replaced;
- no stale files: after the new manifest is in place, a download folder (always the kit's own)
  loses every file the manifest does not name, and a local publish folder loses the files its
  previous manifest named that the new one drops. Bucket objects are never deleted: readers
  follow the manifest, so a stale object is never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kit.data import published, storage
from kit.data.manifest import MANIFEST, PENDING, Entry, Manifest, read_local, sha256_file, write_local
from kit.data.storage import ObjectInfo, Store
from kit.errors import KitError

TMP = ".kit-tmp"
MAX_RANGE = 64 << 20  # the most one ranged GET fetches: what a resumed download can lose


@dataclass
class SyncResult:
    files: int = 0  # files in the published set
    transferred: int = 0  # files copied by this run
    skipped: int = 0  # files already in place and unchanged
    bytes: int = 0  # bytes copied by this run
    resumed_parts: int = 0  # parts an interrupted run had already stored
    manifest: Manifest | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, nbytes: int = 0, resumed_parts: int = 0) -> None:
        with self.lock:
            self.bytes += nbytes
            self.resumed_parts += resumed_parts

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "transferred": self.transferred, "skipped": self.skipped,
                "bytes": self.bytes, "resumed_parts": self.resumed_parts,
                "fingerprint": self.manifest.fingerprint if self.manifest else None}


class Tasks:
    """A thread pool whose tasks may add more tasks; wait() raises the first failure, and
    leaving the `with` block cancels whatever has not started."""

    def __init__(self, workers: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="kit-xfer")
        self.futures: list[Future] = []
        self.lock = threading.Lock()

    def submit(self, fn: Callable, *args: Any) -> None:
        with self.lock:
            self.futures.append(self.pool.submit(fn, *args))

    def map(self, fn: Callable, items: list) -> list:
        return list(self.pool.map(fn, items))

    def wait(self) -> None:
        i = 0
        while True:
            with self.lock:
                if i >= len(self.futures):
                    return
                future = self.futures[i]
            future.result()
            i += 1

    def __enter__(self) -> "Tasks":
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _read_part(path: Path, part_size: int) -> Callable[[int], bytes]:
    def read(index: int) -> bytes:
        with open(path, "rb") as fh:
            return os.pread(fh.fileno(), part_size, index * part_size)
    return read


# --- upload ------------------------------------------------------------------------------------


def upload(files: dict[str, Path], store: Store, *, kind: str = "files",
           meta: dict[str, Any] | None = None, workers: int = 8,
           part_size: int | None = None) -> SyncResult:
    """Publish local files (relative name -> path) under the store, manifest last."""
    result = SyncResult(files=len(files))
    create_only = published.creates_only(store)
    with Tasks(workers) as tasks:
        names = sorted(files)
        shas = dict(zip(names, tasks.map(lambda n: sha256_file(files[n]), names), strict=True))
        sizes = {n: files[n].stat().st_size for n in names}
        remote = dict(zip(names, tasks.map(store.stat, names), strict=True))
        keys = {n: n for n in names}  # the object that holds each file
        if create_only:  # a name holding other bytes is never written again: the file goes beside
            taken = [n for n in names if remote[n] is not None and not _same(remote[n], sizes[n], shas[n])]
            for name, info in zip(taken, tasks.map(
                    lambda n: store.stat(published.version_key(n, shas[n])), taken), strict=True):
                keys[name], remote[name] = published.version_key(name, shas[name]), info
        todo = [n for n in names if not _same(remote[n], sizes[n], shas[n])]
        result.skipped = len(names) - len(todo)
        result.transferred = len(todo)
        old = published.read_manifest(store)
        if not create_only and old is not None and \
                (todo or old.to_json() != _manifest(keys, sizes, shas, kind, meta).to_json()):
            # A local folder: readers see no set rather than a mix of old and new.
            published.write_manifest(store, Manifest({}, kind=PENDING))
        for name in todo:
            tasks.submit(_upload_file, store, name, keys, files[name], sizes[name], shas[name],
                         part_size, tasks, result, create_only)
        tasks.wait()
    new = _manifest(keys, sizes, shas, kind, meta)
    if old is None or old.to_json() != new.to_json() or todo:
        published.write_manifest(store, new)
    if not create_only and old is not None:  # only files the kit itself published here before
        _drop_local(Path(store.uri), set(old.files) - set(new.files),
                    keep={p.resolve() for p in files.values()})
    if hasattr(store, "cleanup"):  # a local destination: drop temporary files of crashed runs
        store.cleanup()
    result.manifest = new
    return result


def _manifest(keys: dict[str, str], sizes: dict[str, int], shas: dict[str, str], kind: str,
              meta: dict[str, Any] | None) -> Manifest:
    return Manifest({n: Entry(sizes[n], shas[n], object=None if keys[n] == n else keys[n])
                     for n in keys}, kind=kind, meta=dict(meta or {}))


def _same(info: ObjectInfo | None, size: int, sha: str) -> bool:
    return info is not None and info.size == size and info.sha256 == sha


def _upload_file(store: Store, name: str, keys: dict[str, str], path: Path, size: int, sha: str,
                 wanted: int | None, tasks: Tasks, result: SyncResult, create_only: bool) -> None:
    """Upload one file to keys[name]. Create-only, an object that turns out to hold other
    bytes (S3: a resumed multipart upload begun for other content, whose metadata is that
    content's) is left alone and the file goes beside it, under its version name."""
    key = keys[name]
    where = f"{store.uri.rstrip('/')}/{key}"
    part = storage.part_size_for(store.scheme, size, wanted)
    if size <= part:
        if not create_only:
            store.put(key, path.read_bytes(), sha)
        elif not store.create(key, path.read_bytes(), sha) and not _same(store.stat(key), size, sha):
            raise KitError(f"{where}: written by someone else during this upload",
                           hint="run one upload to a prefix at a time")
        result.add(size)
        return
    read = _read_part(path, part)
    upload = store.begin(key, size, sha, part, read)
    count = -(-size // part)
    todo = [i for i in range(count) if i not in upload.done]
    result.add(resumed_parts=count - len(todo))

    def finish() -> None:
        upload.finish()
        if create_only and not _same(store.stat(key), size, sha):
            if key == published.version_key(name, sha):
                raise KitError(f"{where}: holds other bytes than this upload's",
                               hint="run one upload to a prefix at a time")
            keys[name] = published.version_key(name, sha)
            _upload_file(store, name, keys, path, size, sha, wanted, tasks, result, create_only)

    if not todo:
        finish()
        return
    left = {"n": len(todo)}
    lock = threading.Lock()

    def send(index: int) -> None:
        data = read(index)
        upload.put_part(index, data)
        result.add(len(data))
        with lock:
            left["n"] -= 1
            last = left["n"] == 0
        if last:
            finish()

    for index in todo:
        tasks.submit(send, index)


# --- download ----------------------------------------------------------------------------------


def _check_key(key: str, where: str) -> None:
    """A key from a listing or manifest must stay inside the destination folder."""
    parts = key.split("/")
    if key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in parts):
        raise KitError(f"{where}: refusing object key {key!r}: it would write outside the "
                       "destination folder", hint="the manifest or bucket was tampered with; "
                       "publish the data again")


def download(store: Store, dest: Path, *, workers: int = 8, part_size: int | None = None,
             require_manifest: bool = False) -> SyncResult:
    """Copy what the store publishes into a local folder; files appear, then the manifest."""
    pub = published.read_manifest(store)
    if pub is None and require_manifest:
        raise KitError(f"{store.uri}: no {MANIFEST}: nothing complete is published here",
                       hint="publish it first (kit data push / kit model mirror), or wait for "
                            "the upload in progress to finish")
    objects: dict[str, str] = {}  # file -> the object holding it, where not its own name
    if pub is not None:
        source = {k: ObjectInfo(k, e.size, None, e.sha256) for k, e in pub.files.items()}
        objects = {k: e.object for k, e in pub.files.items() if e.object}
    else:
        source = {o.key: o for o in store.list()}
        if not source:
            raise KitError(f"{store.uri}: no objects here", hint="check the URI")
    for key in source:
        _check_key(key, store.uri)
    dest.mkdir(parents=True, exist_ok=True)
    local = read_local(dest)
    todo = [k for k in sorted(source) if not _have(dest, local, source[k])]
    result = SyncResult(files=len(source), transferred=len(todo), skipped=len(source) - len(todo))
    if todo and local is not None:
        (dest / MANIFEST).unlink(missing_ok=True)
    shas: dict[str, str] = {}
    per_file = -(-workers // max(1, len(todo)))  # ranges per file that keep every worker busy
    with Tasks(workers) as tasks:
        for key in todo:
            size = source[key].size
            part = part_size or min(MAX_RANGE, max(storage.DEFAULT_PART, -(-size // per_file)))
            tasks.submit(_download_file, store, source[key], objects.get(key, key), dest, part,
                         tasks, result, shas)
        tasks.wait()
    for key in todo:  # every file is complete and verified: move them in, manifest last
        final = dest / key
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(dest / TMP / key, final)
    entries = {}
    for key, info in source.items():
        sha = info.sha256 or shas.get(key) or (local.files[key].sha256 if local else "")
        entries[key] = Entry(info.size, sha, info.etag)
    manifest = Manifest(entries, kind=pub.kind if pub else "files",
                        meta=dict(pub.meta) if pub else {"source": store.uri})
    if todo or local is None or local.to_json() != manifest.to_json():
        write_local(dest, manifest)
    shutil.rmtree(dest / TMP, ignore_errors=True)
    # DEST is the kit's staging folder: what the manifest does not name is a leftover of an
    # earlier set (files the publisher removed), deleted only now that the new set is complete.
    _drop_local(dest, {p.relative_to(dest).as_posix() for p in dest.rglob("*")
                       if p.is_file() and not storage.is_hidden(p.relative_to(dest).as_posix())}
                - set(manifest.files))
    result.manifest = manifest
    return result


def _drop_local(root: Path, stale: set[str], keep: set[Path] | None = None) -> None:
    """Delete these files (names relative to ROOT, never hidden ones, never a path in KEEP),
    then any folders they leave empty, up to ROOT."""
    for key in sorted(stale):
        path = root / key
        if storage.is_hidden(key) or Path(key).is_absolute() or not path.is_file():
            continue
        if keep and path.resolve() in keep:  # a source file of this very upload
            continue
        path.unlink()
        parent = path.parent
        while parent != root and parent.is_relative_to(root) and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


def _have(dest: Path, local: Manifest | None, info: ObjectInfo) -> bool:
    """True when DEST already holds this object unchanged (per DEST's own manifest)."""
    path = dest / info.key
    entry = local.files.get(info.key) if local else None
    if entry is None or not path.is_file() or path.stat().st_size != info.size:
        return False
    if info.sha256:
        return entry.sha256 == info.sha256
    return info.etag is not None and entry.etag == info.etag


class _Journal:
    """Which ranges of one partial download are done, kept beside the partial file."""

    def __init__(self, path: Path, info: ObjectInfo, part: int) -> None:
        self.path, self.lock = path, threading.Lock()
        self.ident = {"size": info.size, "etag": info.etag, "sha256": info.sha256, "part": part}
        self.done: set[int] = set()
        try:
            saved = json.loads(path.read_text())
            if saved.get("ident") == self.ident:
                self.done = set(saved.get("done", []))
        except (OSError, ValueError):
            pass

    def mark(self, index: int) -> None:
        with self.lock:
            self.done.add(index)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"ident": self.ident, "done": sorted(self.done)}))
            os.replace(tmp, self.path)


def _download_file(store: Store, info: ObjectInfo, obj: str, dest: Path, wanted: int | None,
                   tasks: Tasks, result: SyncResult, shas: dict[str, str]) -> None:
    """Fetch the object `obj` (info.key's holder) into DEST/.kit-tmp/<info.key>."""
    tmp = dest / TMP / info.key
    tmp.parent.mkdir(parents=True, exist_ok=True)
    part = storage.part_size_for("file", info.size, wanted)
    count = max(1, -(-info.size // part))
    journal = _Journal(tmp.parent / f"{tmp.name}.kit-journal", info, part)
    if not journal.done or not tmp.is_file():
        journal.done = set()
        with open(tmp, "wb") as fh:
            fh.truncate(info.size)
    todo = [i for i in range(count) if i not in journal.done]
    result.add(resumed_parts=count - len(todo))
    # Parts are hashed in order as they arrive (out-of-order ones wait in `early`), so a fresh
    # download needs no second pass over the file; a resumed one re-reads it once.
    state = {"left": len(todo), "next": 0, "early": {}, "hash": hashlib.sha256()}
    streaming = len(todo) == count
    lock = threading.Lock()

    def verify() -> None:
        sha = state["hash"].hexdigest() if streaming else sha256_file(tmp)
        if info.sha256 and sha != info.sha256:
            for path in (tmp, journal.path):
                path.unlink(missing_ok=True)
            raise KitError(f"{store.uri.rstrip('/')}/{obj}: sha256 does not match the manifest",
                           hint="the object changed or is damaged; republish it, then sync again")
        shas[info.key] = sha
        journal.path.unlink(missing_ok=True)

    def fetch(index: int) -> None:
        start = index * part
        data = store.read(obj, start, min(info.size, start + part), info.etag)
        if len(data) != min(part, info.size - start):
            raise KitError(f"{store.uri.rstrip('/')}/{obj}: changed since it was listed or "
                           f"published (short read at byte {start})",
                           hint="republish it if it was damaged, then sync again")
        with open(tmp, "r+b") as fh:
            os.pwrite(fh.fileno(), data, start)
        result.add(len(data))
        if count > 1:
            journal.mark(index)
        with lock:
            if streaming:
                state["early"][index] = data
                while state["next"] in state["early"]:
                    state["hash"].update(state["early"].pop(state["next"]))
                    state["next"] += 1
            state["left"] -= 1
            last = state["left"] == 0
        if last:
            verify()

    if not todo:
        verify()
    for index in todo:
        tasks.submit(fetch, index)
