"""One small interface for every place data and weights live: s3://, gs://, az://, file://
and plain paths. `parse_uri` is the kit's one parser of storage URIs: anything that asks
"is this a bucket, and which" asks it.

Azure's form is az://ACCOUNT/CONTAINER/PREFIX, and the blob URL Azure users copy from the
portal, https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX, means exactly the same.

Each backend is one class in kit/data/stores/ implementing `Store`; what differs between
clouds (minimum part size, part count limit, the environment variable that points the SDK at
an emulator or private endpoint, the extra to install) is the table below. The transfer engine
(kit/data/transfer.py) only speaks `Store`.

Emulators and private endpoints need no flags: the SDKs read AWS_ENDPOINT_URL (boto3),
STORAGE_EMULATOR_HOST (google-cloud-storage) and AZURE_STORAGE_CONNECTION_STRING (Azure).
Server-side encryption with a customer key is on when `kms_key` (or KIT_STORAGE_KMS_KEY) is set:
SSE-KMS key id on S3, a Cloud KMS key name on GCS, an encryption scope on Azure.

A bucket name is global, so a store on one of the kit's buckets is told the account that must
own it (`owners`, the deployment's: kit.cluster.deps binds them for a cluster target) and the
service refuses a same-named bucket of anyone else (Backend.owner_form). Given explicitly, never
through the process environment; a pod reads the owners its chart gave it (OWNERS_ENV).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from kit.data.objects import Location, ObjectInfo, Store, Upload, is_hidden, owners_from_env
from kit.errors import KitError

if TYPE_CHECKING:
    from kit.data.manifest import Manifest

__all__ = ["Location", "ObjectInfo", "Store", "Upload", "is_hidden", "parse_uri", "open_store",
           "bucket_scheme", "is_remote", "local_path", "part_size_for", "read_manifest",
           "write_manifest", "BACKENDS", "BUCKET_FORMS"]

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
    # The form of a bucket's owner the kit can check (S3: the account, sent with each call;
    # GCS: the project number, read once per store); None: no such check.
    owner_form: str | None = None


BACKENDS = {
    "s3": Backend("kit.data.stores.s3:S3Store", 5 * MiB, 10_000, "AWS_ENDPOINT_URL",
                  "s3://bucket/prefix/", owner_form=r"\d{12}"),
    "gs": Backend("kit.data.stores.gcs:GCSStore", 256 * 1024, 32 * 32, "STORAGE_EMULATOR_HOST",
                  "gs://bucket/prefix/", owner_form=r"\d{6,20}"),
    "az": Backend("kit.data.stores.azure:AzureStore", 1, 50_000,
                  "AZURE_STORAGE_CONNECTION_STRING", "az://account/container/prefix/"),
    "file": Backend("kit.data.stores.local:LocalStore", 1, 1 << 31, None, "/path/or/file:///path"),
}
ALIASES = {"azblob": "az", "gcs": "gs"}
# For hints: the bucket URI forms the kit reads ("s3://, gs:// or az://").
BUCKET_FORMS = ", ".join(f"{s}://" for s in BACKENDS if s != "file").replace(", az://", " or az://")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://(.*)$")
_AZURE_URL = re.compile(r"^https://([a-z0-9]{3,24})\.blob\.core\.windows\.net/(.*)$")
_AZURE_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")


def parse_uri(uri: str) -> Location:
    """s3://b/p, gs://b/p, az://account/container/p (or its https blob URL), file:///abs or a
    plain path -> Location."""
    azure = _AZURE_URL.match(uri)
    if azure:
        uri = f"az://{azure.group(1)}/{azure.group(2)}"
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
    account = ""
    if scheme == "az":
        account, _, rest = rest.partition("/")
        if not _AZURE_ACCOUNT.match(account):
            raise KitError(f"{uri}: {account!r} is not a storage account name (3-24 lowercase "
                           "letters and digits)", hint=f"like {BACKENDS[scheme].example}")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise KitError(f"{uri}: no bucket name", hint=f"like {BACKENDS[scheme].example}")
    prefix = prefix.strip("/")
    return Location(scheme, bucket, prefix + "/" if prefix else "", account)


def bucket_scheme(uri: str) -> str | None:
    """The storage scheme of a bucket URI (s3, gs, az); None for a local path or a hub id."""
    if not _SCHEME.match(uri) and not _AZURE_URL.match(uri):
        return None
    scheme = parse_uri(uri).scheme
    return None if scheme == "file" else scheme


def is_remote(uri: str | Path) -> bool:
    return parse_uri(str(uri)).scheme != "file"


def local_path(uri: str | Path) -> Path:
    loc = parse_uri(str(uri))
    if loc.scheme != "file":
        raise KitError(f"{uri}: expected a local path here, got a {loc.scheme}:// URI")
    return Path(loc.prefix)


def kms_key_from_env(kms_key: str | None = None) -> str | None:
    return kms_key or os.environ.get(KMS_ENV) or None


def open_store(uri: str, *, owners: Mapping[str, str] | None = None, kms_key: str | None = None,
               workers: int = 8) -> Store:
    """The Store for a URI. Imports the backend's SDK only now (a one-line hint if missing).

    `owners` maps the kit's bucket names to the account that must own them: a store on one of
    them is refused by the service if the bucket is someone else's. Without it, the owners the
    pod was given (OWNERS_ENV); the kit's own process always passes them."""
    import importlib

    loc = parse_uri(uri)
    backend = BACKENDS[loc.scheme]
    module, _, attr = backend.target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    owner = (owners_from_env() if owners is None else owners).get(loc.bucket)
    extra = {"owner": owner} if backend.owner_form and owner else {}
    return cls(loc, kms_key=kms_key_from_env(kms_key), workers=workers, **extra)


def part_size_for(scheme: str, size: int, wanted: int | None = None) -> int:
    """The part size to use: the wanted one, raised to the backend's minimum and to what keeps
    the object within its part-count limit."""
    backend = BACKENDS[scheme]
    wanted = wanted or int(os.environ.get(PART_ENV, DEFAULT_PART))
    part = max(wanted, backend.min_part, -(-size // backend.max_parts))
    return part


def read_manifest(store: Store) -> "Manifest | None":
    """The published set, or None: no manifest, or one marking a publish in progress."""
    from kit.data import published

    return published.read_manifest(store)


def write_manifest(store: Store, manifest: "Manifest") -> None:
    from kit.data import published

    published.write_manifest(store, manifest)
