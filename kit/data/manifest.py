"""Manifests: the list of files (size, sha256) that make a published dataset, model or run.

A manifest is written last, after every object it names is in place; readers trust only the
objects a manifest names, and check each one's sha256. So a reader never sees a half-written
set: before the manifest exists there is nothing to read.

The fingerprint of a set is a sha256 over its sorted (path, sha256) pairs: equal content under
the same relative names gives the same fingerprint wherever it lives (local folder or bucket),
which is what the pipeline keys fine-tune runs on.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.errors import KitError

MANIFEST = ".kit-manifest.json"
VERSION = 1
_BUF = 1 << 20


@dataclass(frozen=True)
class Entry:
    size: int
    sha256: str
    etag: str | None = None  # the source object's version, when it came from a bucket


@dataclass
class Manifest:
    files: dict[str, Entry]
    kind: str = "files"  # dataset | model | files
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return fingerprint({path: e.sha256 for path, e in self.files.items()})

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.files.values())

    def to_json(self) -> bytes:
        body = {"version": VERSION, "kind": self.kind, "fingerprint": self.fingerprint,
                **self.meta,
                "files": {p: {"size": e.size, "sha256": e.sha256,
                              **({"etag": e.etag} if e.etag else {})}
                          for p, e in sorted(self.files.items())}}
        return json.dumps(body, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> "Manifest":
        try:
            body = json.loads(data)
            files = {p: Entry(int(v["size"]), str(v["sha256"]), v.get("etag"))
                     for p, v in body.pop("files").items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise KitError(f"{where}: damaged manifest",
                           hint="publish the data again (kit data push / kit model mirror)") from None
        kind = str(body.pop("kind", "files"))
        for key in ("version", "fingerprint"):
            body.pop(key, None)
        return cls(files=files, kind=kind, meta=body)


def fingerprint(shas: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(shas):
        digest.update(f"{path}\0{shas[path]}\n".encode())
    return digest.hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_BUF):
            digest.update(chunk)
    return digest.hexdigest()


def read_local(folder: str | Path) -> Manifest | None:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    return Manifest.from_json(path.read_bytes(), str(path))


def write_local(folder: str | Path, manifest: Manifest) -> None:
    """Write atomically (temp file + rename), so a reader sees the old manifest or the new one."""
    folder = Path(folder)
    tmp = folder / f"{MANIFEST}.{uuid.uuid4().hex}"
    with open(tmp, "wb") as fh:
        fh.write(manifest.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / MANIFEST)


def local_dataset_files(path: str | Path) -> dict[str, Path]:
    """Relative name -> file for the data files of a local dataset (a file keeps its name)."""
    from kit.data.formats import data_files

    path = Path(path)
    files = data_files(path)
    if path.is_file():
        return {path.name: path}
    return {f.relative_to(path).as_posix(): f for f in files}


def dataset_fingerprint(path_or_uri: str | Path) -> str:
    """Content fingerprint of a dataset: a sha256 over its data files' names and sha256s.

    A local file or folder is hashed in place. A bucket URI uses its manifest when it has one
    (nothing is downloaded); otherwise it is staged to a temporary folder and hashed there.
    """
    from kit.data import storage

    text = str(path_or_uri)
    if storage.is_remote(text):
        store = storage.open_store(text)
        published = storage.read_manifest(store)
        if published is not None:  # the data files it names, as data_files() would pick them
            from kit.data.formats import SUFFIXES

            return fingerprint({p: e.sha256 for p, e in published.files.items()
                                if Path(p).suffix in SUFFIXES})
        from kit.data.sync import sync

        with tempfile.TemporaryDirectory(prefix="kit-fp-") as tmp:
            sync(text, tmp)
            return dataset_fingerprint(tmp)
    files = local_dataset_files(storage.local_path(text))
    return fingerprint({name: sha256_file(p) for name, p in files.items()})
