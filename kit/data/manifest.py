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
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.errors import KitError

MANIFEST = ".kit-manifest.json"
# The kind of a manifest that stands for "a new set is being published here": readers treat it
# as no manifest (a local folder's; buckets publish create-only, kit.data.published).
PENDING = "pending"
VERSION = 1
_BUF = 1 << 20


@dataclass(frozen=True)
class Entry:
    size: int
    sha256: str
    etag: str | None = None  # the source object's version, when it came from a bucket
    object: str | None = None  # the object holding it when not its own name (kit.data.published)


@dataclass
class Manifest:
    files: dict[str, Entry]
    kind: str = "files"  # dataset | model | files | pending
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
                              **({"etag": e.etag} if e.etag else {}),
                              **({"object": e.object} if e.object else {})}
                          for p, e in sorted(self.files.items())}}
        return json.dumps(body, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> "Manifest":
        try:
            body = json.loads(data)
            files = {p: Entry(int(v["size"]), str(v["sha256"]), v.get("etag"), v.get("object"))
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
