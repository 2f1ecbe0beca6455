"""az://account/container/prefix through azure-storage-blob. The account's blob endpoint with
a workload identity (azure-identity); AZURE_STORAGE_CONNECTION_STRING, when set, points at
another endpoint of the same account (Azurite, a private endpoint). Large objects go up as
staged blocks committed in one call; block ids carry the file's sha256 prefix, the part
number and the part's MD5, so an interrupted upload keeps exactly the blocks that still match
this file."""

from __future__ import annotations

import hashlib
import logging
import os
from contextlib import contextmanager
from typing import Callable, Iterator

from kit.data.objects import Location, ObjectInfo, is_hidden
from kit.errors import KitError, require

CONN_ENV = "AZURE_STORAGE_CONNECTION_STRING"


STORAGE_SCOPE = "https://storage.azure.com/.default"


@contextmanager
def _guard(where: str) -> Iterator[None]:
    """azure-core errors -> one-line KitErrors that name the URI."""
    errors = require("azure.core.exceptions", "storage")
    try:
        yield
    except errors.ResourceModifiedError:
        raise KitError(f"{where}: changed while being read", hint="run the sync again") from None
    except errors.ResourceNotFoundError as exc:
        code = getattr(exc, "error_code", None) or "not found"
        raise KitError(f"{where}: {code}", hint="check the container name and account") from None
    except errors.ClientAuthenticationError:
        raise KitError(f"{where}: authentication failed",
                       hint=f"check {CONN_ENV} or the workload identity in use") from None
    except errors.ServiceRequestError as exc:
        raise KitError(f"{where}: cannot reach the blob endpoint ({exc})",
                       hint=f"check {CONN_ENV} and the network path to it") from None
    except errors.HttpResponseError as exc:
        code = getattr(exc, "error_code", None) or exc.status_code
        raise KitError(f"{where}: {code}: {exc.reason}") from None


def _block_id(sha256: str, index: int, data: bytes) -> str:
    return f"{sha256[:16]}-{index:06d}-{hashlib.md5(data).hexdigest()}"


class AzureUpload:
    def __init__(self, store: "AzureStore", key: str, size: int, sha256: str, part_size: int,
                 read_part: Callable[[int], bytes]) -> None:
        errors = require("azure.core.exceptions", "storage")
        self.store, self.key, self.sha256 = store, key, sha256
        self.client = store.container.get_blob_client(store.full(key))
        self.count = max(1, -(-size // part_size))
        self.ids: dict[int, str] = {}
        self.done: set[int] = set()
        with _guard(store.where(key)):
            try:
                _, staged = self.client.get_block_list("uncommitted")
            except errors.ResourceNotFoundError:
                staged = []
        for block in staged:
            prefix, _, rest = str(block.id).partition("-")
            number, _, md5 = rest.partition("-")
            if prefix != sha256[:16] or not number.isdigit() or int(number) >= self.count:
                continue
            index = int(number)
            if block.id == _block_id(sha256, index, read_part(index)):
                self.ids[index] = block.id
                self.done.add(index)

    def put_part(self, index: int, data: bytes) -> None:
        block = _block_id(self.sha256, index, data)
        with _guard(self.store.where(self.key)):
            self.client.stage_block(block, data, length=len(data), **self.store.scope)
        self.ids[index] = block

    def finish(self) -> None:
        """Commit only where no blob of this name exists (If-None-Match: *); a name taken
        meanwhile is the transfer engine's to see (it compares the sha256)."""
        blob = require("azure.storage.blob", "storage")
        core = require("azure.core", "storage")
        errors = require("azure.core.exceptions", "storage")
        blocks = [blob.BlobBlock(block_id=self.ids[i]) for i in range(self.count)]
        with _guard(self.store.where(self.key)):
            try:
                self.client.commit_block_list(blocks, metadata={"sha256": self.sha256},
                                              match_condition=core.MatchConditions.IfMissing,
                                              **self.store.scope)
            except errors.ResourceExistsError:
                pass


class AzureStore:
    scheme = "az"
    create_only = True  # the transfer engine never writes a name twice (kit.data.published)

    def __init__(self, loc: Location, *, kms_key: str | None = None, workers: int = 8) -> None:
        blob = require("azure.storage.blob", "storage")
        conn = os.environ.get(CONN_ENV)
        with _guard(loc.uri):
            if conn:
                service = blob.BlobServiceClient.from_connection_string(conn)
                if service.account_name != loc.account:
                    raise KitError(f"{loc.uri}: {CONN_ENV} is for account {service.account_name}, "
                                   f"not {loc.account}",
                                   hint=f"unset {CONN_ENV}, or use az://{service.account_name}/...")
            else:
                identity = require("azure.identity", "storage")
                # It logs a dozen lines for every failed token request before raising; the
                # kit reports the failure in one line (_guard).
                credential = identity.DefaultAzureCredential()
                # Storage asks for a token only after an unauthenticated first request, which
                # without credentials costs a minute of retries: ask first, fail in one line.
                log = logging.getLogger("azure.identity")
                level = log.level
                log.setLevel(logging.ERROR)
                try:
                    credential.get_token(STORAGE_SCOPE)
                finally:            # the process's logging is the caller's: put it back
                    log.setLevel(level)
                service = blob.BlobServiceClient(f"https://{loc.account}.blob.core.windows.net",
                                                 credential=credential)
        self.container = service.get_container_client(loc.bucket)
        self.bucket, self.prefix, self.uri, self.root = loc.bucket, loc.prefix, loc.uri, loc.root
        # A customer-managed key on Azure is applied through an encryption scope.
        self.scope = {"encryption_scope": kms_key} if kms_key else {}

    def full(self, key: str) -> str:
        return self.prefix + key

    def where(self, key: str) -> str:
        return f"{self.root}/{self.full(key)}"

    def list(self) -> Iterator[ObjectInfo]:
        with _guard(self.uri):
            for props in self.container.list_blobs(name_starts_with=self.prefix or None,
                                                   include=["metadata"]):
                key = props.name[len(self.prefix):]
                if key and not is_hidden(key):
                    yield ObjectInfo(key, props.size, props.etag.strip('"'),
                                     (props.metadata or {}).get("sha256"))

    def list_under(self, under: str) -> Iterator[ObjectInfo]:
        """Every blob whose key starts with `under`, the kit's hidden ones included."""
        with _guard(self.uri):
            for props in self.container.list_blobs(name_starts_with=self.prefix + under,
                                                   include=["metadata"]):
                yield ObjectInfo(props.name[len(self.prefix):], props.size, props.etag.strip('"'),
                                 (props.metadata or {}).get("sha256"))

    def stat(self, key: str) -> ObjectInfo | None:
        errors = require("azure.core.exceptions", "storage")
        with _guard(self.where(key)):
            try:
                props = self.container.get_blob_client(self.full(key)).get_blob_properties()
            except errors.ResourceNotFoundError:
                return None
        return ObjectInfo(key, props.size, props.etag.strip('"'), (props.metadata or {}).get("sha256"))

    def read(self, key: str, start: int = 0, end: int | None = None,
             etag: str | None = None) -> bytes:
        if end is not None and end <= start:
            return b""
        extra = {}
        if etag:
            core = require("azure.core", "storage")
            extra = {"etag": f'"{etag}"', "match_condition": core.MatchConditions.IfNotModified}
        client = self.container.get_blob_client(self.full(key))
        with _guard(self.where(key)):
            return client.download_blob(offset=start, length=None if end is None else end - start,
                                        max_concurrency=1, **extra).readall()

    def put(self, key: str, data: bytes, sha256: str | None = None) -> None:
        client = self.container.get_blob_client(self.full(key))
        with _guard(self.where(key)):
            client.upload_blob(data, overwrite=True, metadata={"sha256": sha256} if sha256 else None,
                               **self.scope)

    def create(self, key: str, data: bytes, sha256: str | None = None) -> bool:
        """Write a blob only where none exists (If-None-Match: *); False when the name is taken."""
        errors = require("azure.core.exceptions", "storage")
        client = self.container.get_blob_client(self.full(key))
        with _guard(self.where(key)):
            try:
                client.upload_blob(data, overwrite=False,
                                   metadata={"sha256": sha256} if sha256 else None, **self.scope)
            except errors.ResourceExistsError:
                return False
        return True

    def delete(self, key: str) -> None:
        errors = require("azure.core.exceptions", "storage")
        with _guard(self.where(key)):
            try:
                self.container.get_blob_client(self.full(key)).delete_blob()
            except errors.ResourceNotFoundError:
                pass

    def begin(self, key: str, size: int, sha256: str, part_size: int,
              read_part: Callable[[int], bytes]) -> AzureUpload:
        return AzureUpload(self, key, size, sha256, part_size, read_part)
