"""One small interface for every place data and weights live: s3://, gs://, az://, file://
and plain paths.

Each backend is one class in kit/data/stores/ implementing `Store`; what differs between
clouds (minimum part size, part count limit, the environment variable that points the SDK at
an emulator or private endpoint, the extra to install) is the table below. The transfer engine
(kit/data/transfer.py) only speaks `Store`.

Emulators and private endpoints need no flags: the SDKs read AWS_ENDPOINT_URL (boto3),
STORAGE_EMULATOR_HOST (google-cloud-storage) and AZURE_STORAGE_CONNECTION_STRING (Azure).
Server-side encryption with a customer key is on when `kms_key` (or KIT_STORAGE_KMS_KEY) is set:
SSE-KMS key id on S3, a Cloud KMS key name on GCS, an encryption scope on Azure.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Protocol

from kit.errors import KitError

if TYPE_CHECKING:
    from kit.data.manifest import Manifest

MiB = 1 << 20
KMS_ENV = "KIT_STORAGE_KMS_KEY"
PART_ENV = "KIT_PART_SIZE"
DEFAULT_PART = 8 * MiB


@dataclass(frozen=True)
class Backend:
    target: str  # "module:Class"
    min_part: int  # smallest part but the last
    max_parts: int  # most parts one object may have
    endpoint_env: str | None  # where emulators and private endpoints are configured
    example: str


BACKENDS = {
    "s3": Backend("kit.data.stores.s3:S3Store", 5 * MiB, 10_000, "AWS_ENDPOINT_URL",
                  "s3://bucket/prefix/"),
    "gs": Backend("kit.data.stores.gcs:GCSStore", 256 * 1024, 32 * 32, "STORAGE_EMULATOR_HOST",
                  "gs://bucket/prefix/"),
    "az": Backend("kit.data.stores.azure:AzureStore", 1, 50_000,
                  "AZURE_STORAGE_CONNECTION_STRING", "az://container/prefix/"),
    "file": Backend("kit.data.stores.local:LocalStore", 1, 1 << 31, None, "/path/or/file:///path"),
}
ALIASES = {"azblob": "az", "gcs": "gs"}
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://(.*)$")


@dataclass(frozen=True)
class Location:
    scheme: str  # s3 | gs | az | file
    bucket: str  # bucket or container; "" for file
    prefix: str  # key prefix ("" or ending in "/"); for file: the absolute folder

    @property
    def uri(self) -> str:
        if self.scheme == "file":
            return self.prefix
        return f"{self.scheme}://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # relative to the store's prefix, "/"-separated
    size: int
    etag: str | None = None  # changes whenever the content does
    sha256: str | None = None  # recorded in the object's metadata when the kit wrote it


class Upload(Protocol):
    """One object being written in parts. `done` holds the parts an earlier, interrupted
    attempt already stored (verified against this file's content), so they are not sent again."""

    done: set[int]

    def put_part(self, index: int, data: bytes) -> None: ...

    def finish(self) -> None: ...


class Store(Protocol):
    uri: str
    scheme: str

    def list(self) -> Iterator[ObjectInfo]: ...

    def stat(self, key: str) -> ObjectInfo | None: ...

    def read(self, key: str, start: int = 0, end: int | None = None,
             etag: str | None = None) -> bytes: ...

    def put(self, key: str, data: bytes, sha256: str | None = None) -> None: ...

    def delete(self, key: str) -> None: ...

    def begin(self, key: str, size: int, sha256: str, part_size: int,
              read_part: Callable[[int], bytes]) -> Upload:
        """Start (or resume) a multipart write; `read_part(i)` gives this file's part i, so a
        backend can check which parts already stored are still this content."""


def parse_uri(uri: str) -> Location:
    """s3://b/p, gs://b/p, az://container/p, file:///abs or a plain path -> Location."""
    match = _SCHEME.match(uri)
    if not match:
        return Location("file", "", str(Path(uri).expanduser().resolve()))
    scheme, rest = match.group(1), match.group(2)
    scheme = ALIASES.get(scheme, scheme)
    if scheme == "file":
        return Location("file", "", str(Path(rest or "/").resolve()))
    if scheme not in BACKENDS:
        known = ", ".join(f"{s}://" for s in BACKENDS)
        raise KitError(f"{uri}: unsupported storage scheme '{scheme}://'", hint=f"use one of {known}")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise KitError(f"{uri}: no bucket name", hint=f"like {BACKENDS[scheme].example}")
    prefix = prefix.strip("/")
    return Location(scheme, bucket, prefix + "/" if prefix else "")


def is_remote(uri: str | Path) -> bool:
    return parse_uri(str(uri)).scheme != "file"


def local_path(uri: str | Path) -> Path:
    loc = parse_uri(str(uri))
    if loc.scheme != "file":
        raise KitError(f"{uri}: expected a local path here, got a {loc.scheme}:// URI")
    return Path(loc.prefix)


def is_hidden(key: str) -> bool:
    """Keys with a component starting with '.' are the kit's own (manifests, staged parts)."""
    return any(part.startswith(".") for part in key.split("/"))


def kms_key_from_env(kms_key: str | None = None) -> str | None:
    return kms_key or os.environ.get(KMS_ENV) or None


def open_store(uri: str, *, kms_key: str | None = None, workers: int = 8) -> Store:
    """The Store for a URI. Imports the backend's SDK only now (a one-line hint if missing)."""
    import importlib

    loc = parse_uri(uri)
    module, _, attr = BACKENDS[loc.scheme].target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    return cls(loc, kms_key=kms_key_from_env(kms_key), workers=workers)


def part_size_for(scheme: str, size: int, wanted: int | None = None) -> int:
    """The part size to use: the wanted one, raised to the backend's minimum and to what keeps
    the object within its part-count limit."""
    backend = BACKENDS[scheme]
    wanted = wanted or int(os.environ.get(PART_ENV, DEFAULT_PART))
    part = max(wanted, backend.min_part, -(-size // backend.max_parts))
    return part


def read_manifest(store: Store) -> "Manifest | None":
    from kit.data.manifest import MANIFEST, Manifest

    if store.stat(MANIFEST) is None:
        return None
    return Manifest.from_json(store.read(MANIFEST), f"{store.uri.rstrip('/')}/{MANIFEST}")


def write_manifest(store: Store, manifest: "Manifest") -> None:
    import hashlib

    from kit.data.manifest import MANIFEST

    data = manifest.to_json()
    store.put(MANIFEST, data, hashlib.sha256(data).hexdigest())

