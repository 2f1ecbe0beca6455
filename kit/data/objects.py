"""What every storage backend shares (kit/data/stores/): where objects live (Location), what
one is (ObjectInfo), and the Store/Upload protocols the transfer engine speaks. A leaf
module: the backends import it, and kit.data.storage picks the backend for a URI."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

from kit.errors import KitError

# JSON {bucket: owner}: the account that must own each of the kit's buckets, as the charts give
# it to the pods that touch them (bucketOwners). A bucket name is global; whoever holds the name
# would otherwise receive what the kit writes there. Read, never written: the kit's own process
# passes the owners to kit.data.storage.open_store.
OWNERS_ENV = "KIT_STORAGE_BUCKET_OWNERS"


@dataclass(frozen=True)
class Location:
    scheme: str  # s3 | gs | az | file
    bucket: str  # bucket or container; "" for file
    prefix: str  # key prefix ("" or ending in "/"); for file: the absolute folder
    account: str = ""  # az: the storage account holding the container

    @property
    def uri(self) -> str:
        if self.scheme == "file":
            return self.prefix
        return f"{self.root}/{self.prefix}"

    @property
    def root(self) -> str:
        """The bucket (container) as a URI, without prefix or trailing slash."""
        account = f"{self.account}/" if self.account else ""
        return f"{self.scheme}://{account}{self.bucket}"

    @property
    def purge_unit(self) -> str:
        """What `kit down --purge` deletes whole when it deletes the kit's storage here: the
        bucket, or on Azure the storage account (the kit creates one account, not containers)."""
        return f"{self.scheme}://{self.account}" if self.account else self.root


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


def is_hidden(key: str) -> bool:
    """Keys with a component starting with '.' are the kit's own (manifests, staged parts)."""
    return any(part.startswith(".") for part in key.split("/"))


def owners_from_env() -> dict[str, str]:
    """The owners a pod was given (OWNERS_ENV, set by the charts): {} where none were."""
    text = os.environ.get(OWNERS_ENV)
    if not text:
        return {}
    try:
        owners = json.loads(text)
    except json.JSONDecodeError:
        owners = None
    if not isinstance(owners, dict):
        raise KitError(f"{OWNERS_ENV}: not a JSON object", hint='like {"bucket": "123456789012"}')
    return {str(bucket): str(owner) for bucket, owner in owners.items() if owner}
