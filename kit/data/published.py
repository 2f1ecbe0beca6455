"""Create-only publishing: what the kit writes to a bucket is never written twice under one name.

An identity that may create and read objects, but not delete them, cannot replace one on Cloud
Storage (an overwrite needs storage.objects.delete), and must not be able to on any cloud: the
trainer holds such a role on `runs/`. So a publish to a bucket
- writes each file under its own name when that name is free, and skips it when the object
  there already holds these bytes (a retried upload overwrites nothing);
- writes a file whose name already holds other bytes (metrics.jsonl at the next checkpoint, a
  re-merged weight after a crash) beside it, under `<folder>/.kit-v/<sha256>/<name>`, which can
  hold nothing else;
- writes its manifest last under a new name, `.kit-manifests/<sequence>.json`, one more than the
  newest found by listing. The manifest names the object that holds each file.

Readers take the newest manifest (listing, highest sequence) and read each file from the object
it names, so they see a whole set, old or new, never a mix: nothing a manifest names is ever
replaced. A local folder (the kit's own staging, a user's disk) is the exception: files there
are replaced atomically by rename and the single `.kit-manifest.json` is kept.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from kit.data.manifest import MANIFEST, PENDING, Manifest
from kit.errors import KitError

if TYPE_CHECKING:
    from kit.data.objects import Store

MANIFESTS = ".kit-manifests"  # <MANIFESTS>/<sequence>.json, the newest is the highest
VERSIONS = ".kit-v"           # <folder>/<VERSIONS>/<sha256>/<name>: a file whose name is taken
_SEQ = re.compile(r"^\d{12}\.json$")


def creates_only(store: "Store") -> bool:
    """True unless the store replaces files atomically (a local folder)."""
    return bool(getattr(store, "create_only", True))


def version_key(key: str, sha256: str) -> str:
    """Where a file goes when its own name already holds other bytes: beside it, by content."""
    folder, _, name = key.rpartition("/")
    return f"{folder + '/' if folder else ''}{VERSIONS}/{sha256}/{name}"


def _sequences(store: "Store") -> list[int]:
    prefix = f"{MANIFESTS}/"
    found = []
    for info in store.list_under(prefix):
        name = info.key[len(prefix):]
        if _SEQ.match(name):
            found.append(int(name[:-len(".json")]))
    return sorted(found)


def _manifest_key(seq: int) -> str:
    return f"{MANIFESTS}/{seq:012d}.json"


def read_manifest(store: "Store") -> Manifest | None:
    """The newest published set here, or None: no manifest, or one marking a publish in
    progress. A bucket published before create-only publishing has one `.kit-manifest.json`."""
    if creates_only(store):
        seqs = _sequences(store)
        if seqs:
            key = _manifest_key(seqs[-1])
            manifest = Manifest.from_json(store.read(key), f"{store.uri.rstrip('/')}/{key}")
            return None if manifest.kind == PENDING else manifest
    if store.stat(MANIFEST) is None:
        return None
    manifest = Manifest.from_json(store.read(MANIFEST), f"{store.uri.rstrip('/')}/{MANIFEST}")
    return None if manifest.kind == PENDING else manifest


def write_manifest(store: "Store", manifest: Manifest) -> None:
    """Publish a manifest: on a bucket under the next new name (never over an existing object),
    nothing at all when the newest one already says the same; in a local folder in place."""
    data = manifest.to_json()
    sha = hashlib.sha256(data).hexdigest()
    if not creates_only(store):
        store.put(MANIFEST, data, sha)
        return
    seqs = _sequences(store)
    if seqs and store.read(_manifest_key(seqs[-1])) == data:
        return
    seq = seqs[-1] + 1 if seqs else 1
    for _ in range(8):  # another writer took the name in between: the next one
        if store.create(_manifest_key(seq), data, sha):
            return
        seq += 1
    raise KitError(f"{store.uri}: could not publish a manifest: {MANIFESTS}/ keeps changing",
                   hint="another upload to this prefix is running; run one at a time")


def read_file(store: "Store", name: str) -> bytes | None:
    """One file of the newest published set, by its name in the set (e.g. summary.json), from
    the object the manifest names, checked against its sha256; None when the set lacks it.
    A local folder with no manifest at all (a run folder the kit wrote in place) gives the file
    itself: files there are only ever replaced whole, by rename."""
    manifest = read_manifest(store)
    if manifest is None and not creates_only(store):
        return store.read(name) if store.stat(name) is not None else None
    entry = manifest.files.get(name) if manifest is not None else None
    if entry is None:
        return None
    data = store.read(entry.object or name)
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        raise KitError(f"{store.uri.rstrip('/')}/{entry.object or name}: sha256 does not match "
                       "the manifest", hint="the object changed or is damaged; publish it again")
    return data
