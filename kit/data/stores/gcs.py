"""gs:// through google-cloud-storage. STORAGE_EMULATOR_HOST (read by the client library) points
it at an emulator. Large objects go up as parallel composite uploads: parts are objects under a
hidden `.kit-parts/` folder, composed into the final object in one call (via groups of 32); an
interrupted upload reuses the parts whose MD5 matches this file's bytes.

Every object is created with the precondition ifGenerationMatch=0 (parts, groups, the final
object, `create`): Cloud Storage refuses it when the name already exists, so this store never
replaces an object through those paths (https://cloud.google.com/storage/docs/request-preconditions,
read 2026-12-07). Parts are then deleted where the identity may (an operator's publish); the
trainer may not (kit.data.published), and its parts, named `*.kit-part`, are left to the kit bucket's
lifecycle rule, Google's documented way to clean them out of band
(https://cloud.google.com/java/docs/reference/google-cloud-storage/latest/com.google.cloud.storage.ParallelCompositeUploadBlobWriteSessionConfig,
read 2026-12-07)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from contextlib import contextmanager
from typing import Callable, Iterator

from kit.data.objects import Location, ObjectInfo, is_hidden
from kit.errors import KitError, require

PARTS = ".kit-parts"
PART_SUFFIX = ".kit-part"  # every part and group object's name ends so (a lifecycle rule matches it)
_STALE = r"^{}\.[0-9a-f]{{16}}/"  # <parts>/<key>.<sha256 prefix>/...: one upload's parts
_GROUP = 32  # the most sources one compose call takes


@contextmanager
def _guard(where: str) -> Iterator[None]:
    """google-api-core errors -> one-line KitErrors that name the URI."""
    exceptions = require("google.api_core.exceptions", "storage")
    auth = require("google.auth.exceptions", "storage")
    try:
        yield
    except exceptions.PreconditionFailed:
        raise KitError(f"{where}: changed while being read", hint="run the sync again") from None
    except exceptions.NotFound as exc:
        raise KitError(f"{where}: not found ({exc.message})",
                       hint="check the bucket name and STORAGE_EMULATOR_HOST") from None
    except exceptions.Forbidden:
        raise KitError(f"{where}: permission denied",
                       hint="the identity in use lacks permission on this prefix") from None
    except exceptions.GoogleAPIError as exc:
        raise KitError(f"{where}: {type(exc).__name__}: {exc}") from None
    except auth.DefaultCredentialsError:
        raise KitError(f"{where}: no Google credentials found",
                       hint="use workload identity or GOOGLE_APPLICATION_CREDENTIALS") from None
    except OSError as exc:  # requests' connection errors derive from OSError
        raise KitError(f"{where}: cannot reach the GCS endpoint ({type(exc).__name__})",
                       hint="check STORAGE_EMULATOR_HOST and the network path to it") from None


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


class GCSUpload:
    def __init__(self, store: "GCSStore", key: str, size: int, sha256: str, part_size: int,
                 read_part: Callable[[int], bytes]) -> None:
        self.store, self.key, self.sha256 = store, key, sha256
        self.count = max(1, -(-size // part_size))
        # the part size too: parts (and groups) of an attempt with another size never mix in
        self.stem = f"{PARTS}/{key}.{sha256[:16]}/{part_size}"
        self.done: set[int] = set()
        with _guard(store.where(key)):
            for blob in store.client.list_blobs(store.bucket, prefix=store.full(self.stem) + "/"):
                name = blob.name.rsplit("/", 1)[-1].removesuffix(PART_SUFFIX)
                if name.isdigit() and int(name) < self.count:
                    index = int(name)
                    if blob.md5_hash == _md5(read_part(index)):
                        self.done.add(index)

    def _part(self, index: int) -> str:
        return self.store.full(f"{self.stem}/{index:05d}{PART_SUFFIX}")

    def put_part(self, index: int, data: bytes) -> None:
        blob = self.store.bucket_ref.blob(self._part(index), kms_key_name=self.store.kms_key)
        if not _create(blob, self.store.where(self.key), lambda b: b.upload_from_string(
                data, checksum="md5", if_generation_match=0)):
            # an earlier attempt stored this part after this one listed them: the same bytes?
            with _guard(self.store.where(self.key)):
                stored = self.store.bucket_ref.get_blob(self._part(index))
            if stored is None or stored.md5_hash != _md5(data):
                raise KitError(f"{self.store.where(self.key)}: part {index} was written by another "
                               "upload meanwhile", hint="run one upload to a prefix at a time")

    def finish(self) -> None:
        bucket = self.store.bucket_ref
        parts = [bucket.blob(self._part(i)) for i in range(self.count)]
        sources = parts
        where = self.store.where(self.key)
        if len(parts) > _GROUP:  # compose groups first, so the final object appears whole
            sources = []
            for g in range(0, len(parts), _GROUP):
                group = bucket.blob(self.store.full(f"{self.stem}/g{g // _GROUP:03d}{PART_SUFFIX}"))
                # a group left by an interrupted attempt holds the same parts of the same file
                _create(group, where, lambda b, g=g: b.compose(parts[g:g + _GROUP], if_generation_match=0))
                sources.append(group)
        final = self.store.blob(self.key)
        final.metadata = {"sha256": self.sha256}
        final.content_type = "application/octet-stream"
        if not _create(final, where, lambda b: b.compose(sources, if_generation_match=0)):
            found = self.store.stat(self.key)
            if found is None or found.sha256 != self.sha256:
                raise KitError(f"{where}: written by another upload meanwhile",
                               hint="run one upload to a prefix at a time")
        self._drop_parts()

    def _drop_parts(self) -> None:
        """This upload's parts, and those of earlier attempts at other content of this key,
        where the identity may delete; else they stay for the bucket's lifecycle rule."""
        exceptions = require("google.api_core.exceptions", "storage")
        if not self.store.may_delete:
            return
        stale = _STALE.format(re.escape(self.store.full(f"{PARTS}/{self.key}")))
        prefix = self.store.full(f"{PARTS}/{self.key}.")
        with _guard(self.store.where(self.key)):
            for blob in self.store.client.list_blobs(self.store.bucket, prefix=prefix):
                if re.match(stale, blob.name):
                    try:
                        blob.delete()
                    except exceptions.Forbidden:  # a create-only identity (the trainer): once
                        self.store.may_delete = False
                        return
                    except exceptions.NotFound:
                        pass


def _create(blob, where: str, write: Callable) -> bool:
    """Run a write carrying ifGenerationMatch=0; False when the object already exists."""
    exceptions = require("google.api_core.exceptions", "storage")
    with _guard(where):
        try:
            write(blob)
        except exceptions.PreconditionFailed:
            return False
    return True


class GCSStore:
    scheme = "gs"
    create_only = True  # the transfer engine never writes a name twice (kit.data.published)

    def __init__(self, loc: Location, *, owner: str | None = None, kms_key: str | None = None,
                 workers: int = 8) -> None:
        storage = require("google.cloud.storage", "storage")
        with _guard(loc.uri):
            project = os.environ.get("GOOGLE_CLOUD_PROJECT")
            self.client = storage.Client(project=project) if project else storage.Client()
        self.bucket, self.prefix, self.uri = loc.bucket, loc.prefix, loc.uri
        self.bucket_ref = self.client.bucket(self.bucket)
        self.kms_key = kms_key
        self.may_delete = True  # until a delete is refused: then parts stay (see the docstring)
        if owner:
            self._check_owner(owner)

    def _check_owner(self, project_number: str) -> None:
        """GCS has no per-call owner condition like S3's: the bucket's project is read once,
        before any object call, and a bucket of that name in another project is refused."""
        try:
            with _guard(f"gs://{self.bucket}"):
                found = str(self.client.get_bucket(self.bucket).project_number or "")
        except KitError as exc:
            if "permission denied" not in exc.message:
                raise
            raise KitError(f"gs://{self.bucket}: cannot read the bucket's project to check its "
                           "owner (permission denied)",
                           hint="grant storage.buckets.get on the bucket (e.g. "
                                "roles/storage.legacyBucketReader)") from None
        if found != project_number:
            raise KitError(f"gs://{self.bucket} belongs to project {found or '(unknown)'}, not "
                           f"{project_number}: refused (a bucket of that name held by someone else)",
                           hint="check storage.bucket_owner (the project number) and the bucket name")

    def full(self, key: str) -> str:
        return self.prefix + key

    def where(self, key: str) -> str:
        return f"gs://{self.bucket}/{self.full(key)}"

    def blob(self, key: str):
        return self.bucket_ref.blob(self.full(key), kms_key_name=self.kms_key)

    def list(self) -> Iterator[ObjectInfo]:
        with _guard(self.uri):
            for blob in self.client.list_blobs(self.bucket, prefix=self.prefix):
                key = blob.name[len(self.prefix):]
                if key and not is_hidden(key):
                    yield ObjectInfo(key, blob.size, str(blob.generation),
                                     (blob.metadata or {}).get("sha256"))

    def list_under(self, under: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with `under`, the kit's hidden ones included."""
        with _guard(self.uri):
            for blob in self.client.list_blobs(self.bucket, prefix=self.prefix + under):
                yield ObjectInfo(blob.name[len(self.prefix):], blob.size, str(blob.generation),
                                 (blob.metadata or {}).get("sha256"))

    def stat(self, key: str) -> ObjectInfo | None:
        with _guard(self.where(key)):
            blob = self.bucket_ref.get_blob(self.full(key))
        if blob is None:
            return None
        return ObjectInfo(key, blob.size, str(blob.generation), (blob.metadata or {}).get("sha256"))

    def read(self, key: str, start: int = 0, end: int | None = None,
             etag: str | None = None) -> bytes:
        if end is not None and end <= start:
            return b""
        blob = self.bucket_ref.blob(self.full(key))
        ranged = bool(start) or end is not None
        with _guard(self.where(key)):
            return blob.download_as_bytes(
                start=start if ranged else None, end=None if end is None else end - 1,
                if_generation_match=int(etag) if etag else None,
                checksum=None if ranged else "md5")

    def put(self, key: str, data: bytes, sha256: str | None = None) -> None:
        blob = self.blob(key)
        if sha256:
            blob.metadata = {"sha256": sha256}
        with _guard(self.where(key)):
            blob.upload_from_string(data, checksum="md5")

    def create(self, key: str, data: bytes, sha256: str | None = None) -> bool:
        """Write an object only where none exists (ifGenerationMatch=0); False when the name
        is taken."""
        blob = self.blob(key)
        if sha256:
            blob.metadata = {"sha256": sha256}
        return _create(blob, self.where(key),
                       lambda b: b.upload_from_string(data, checksum="md5", if_generation_match=0))

    def delete(self, key: str) -> None:
        exceptions = require("google.api_core.exceptions", "storage")
        with _guard(self.where(key)):
            try:
                self.bucket_ref.blob(self.full(key)).delete()
            except exceptions.NotFound:
                pass

    def begin(self, key: str, size: int, sha256: str, part_size: int,
              read_part: Callable[[int], bytes]) -> GCSUpload:
        return GCSUpload(self, key, size, sha256, part_size, read_part)
