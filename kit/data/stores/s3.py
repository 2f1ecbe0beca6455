"""s3:// through boto3. AWS_ENDPOINT_URL (read by botocore itself) points it at moto, MinIO or
a VPC endpoint. Large objects go up as multipart uploads; an interrupted one is found again by
key and its parts are reused when their MD5 matches this file's bytes."""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from typing import Callable, Iterator

from kit.data.objects import Location, ObjectInfo, is_hidden
from kit.errors import KitError, require

_HINTS = {
    "NoSuchBucket": "check the bucket name, region and AWS_ENDPOINT_URL",
    "AccessDenied": "the identity in use lacks permission on this prefix, or the bucket is not "
                    "owned by the expected account",
    "InvalidAccessKeyId": "check the AWS credentials in use",
    "SignatureDoesNotMatch": "check the AWS credentials in use",
}


@contextmanager
def _guard(where: str) -> Iterator[None]:
    """botocore errors -> one-line KitErrors that name the URI."""
    botocore = require("botocore.exceptions", "storage")
    try:
        yield
    except botocore.ClientError as exc:
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "error"))
        if code in ("PreconditionFailed", "412"):
            raise KitError(f"{where}: changed while being read", hint="run the sync again") from None
        raise KitError(f"{where}: {code}: {err.get('Message', '')}".rstrip(": "),
                       hint=_HINTS.get(code)) from None
    except botocore.NoCredentialsError:
        raise KitError(f"{where}: no AWS credentials found",
                       hint="use a workload identity, a profile, or AWS_ACCESS_KEY_ID") from None
    except (botocore.EndpointConnectionError, botocore.ConnectionError) as exc:
        raise KitError(f"{where}: cannot reach the S3 endpoint ({exc})",
                       hint="check AWS_ENDPOINT_URL and the network path to it") from None


class S3Upload:
    def __init__(self, store: "S3Store", key: str, size: int, sha256: str, part_size: int,
                 read_part: Callable[[int], bytes]) -> None:
        self.store, self.key, self.sha256 = store, key, sha256
        self.where = store.where(key)
        self.count = max(1, -(-size // part_size))
        self.etags: dict[int, str] = {}
        self.done: set[int] = set()
        self.read_part = read_part
        self.upload_id = self._resume(size, part_size, read_part) or self._create()

    def _resume(self, size: int, part_size: int, read_part: Callable[[int], bytes]) -> str | None:
        s3, bucket, full = self.store.client, self.store.bucket, self.store.full(self.key)
        with _guard(self.where):
            uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=full).get("Uploads", [])
            uploads = [u for u in uploads if u["Key"] == full]
            candidates = []
            for upload in uploads:
                parts = []
                for page in s3.get_paginator("list_parts").paginate(
                        Bucket=bucket, Key=full, UploadId=upload["UploadId"]):
                    parts.extend(page.get("Parts", []))
                candidates.append((upload["UploadId"], parts))
        best: tuple[str, dict[int, str]] | None = None
        for upload_id, parts in candidates:  # the attempt with the most parts still valid wins
            valid = {}
            for part in parts:
                index = part["PartNumber"] - 1
                expected = min(part_size, size - index * part_size)
                if index < self.count and part["Size"] == expected and \
                        hashlib.md5(read_part(index)).hexdigest() == part["ETag"].strip('"'):
                    valid[index] = part["ETag"]
            if best is None or len(valid) > len(best[1]):
                best = (upload_id, valid)
        if best is None:
            return None
        self.etags.update(best[1])
        self.done.update(best[1])
        return best[0]

    def _create(self) -> str:
        with _guard(self.where):
            resp = self.store.client.create_multipart_upload(
                Bucket=self.store.bucket, Key=self.store.full(self.key),
                Metadata={"sha256": self.sha256}, **self.store.sse)
        return resp["UploadId"]

    def put_part(self, index: int, data: bytes) -> None:
        with _guard(self.where):
            resp = self.store.client.upload_part(
                Bucket=self.store.bucket, Key=self.store.full(self.key), UploadId=self.upload_id,
                PartNumber=index + 1, Body=data)
        self.etags[index] = resp["ETag"]

    def finish(self) -> None:
        """Complete only where no object of this name exists (If-None-Match: *, which the
        trainer's policy requires, stacks/aws/identity.py). A name taken meanwhile, or an
        attempt begun for other content whose leading parts matched (its metadata names the
        other sha256), is the transfer engine's to see: it puts the file beside it."""
        botocore = require("botocore.exceptions", "storage")
        parts = [{"PartNumber": i + 1, "ETag": self.etags[i]} for i in range(self.count)]
        with _guard(self.where):
            try:
                self.store.client.complete_multipart_upload(
                    Bucket=self.store.bucket, Key=self.store.full(self.key), UploadId=self.upload_id,
                    MultipartUpload={"Parts": parts}, IfNoneMatch="*")
            except botocore.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                    raise


class S3Store:
    scheme = "s3"
    create_only = True  # the transfer engine never writes a name twice (kit.data.published)

    def __init__(self, loc: Location, *, owner: str | None = None, kms_key: str | None = None,
                 workers: int = 8) -> None:
        boto3 = require("boto3", "storage")
        from botocore.config import Config

        config = Config(max_pool_connections=max(10, 2 * workers),
                        retries={"max_attempts": 5, "mode": "standard"})
        self.client = boto3.session.Session().client("s3", config=config)
        self.bucket, self.prefix, self.uri = loc.bucket, loc.prefix, loc.uri
        self.sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key} if kms_key else {}
        self.owner = owner
        if self.owner:
            # One hook, so no call (paginators included) can forget the owner: S3 then refuses
            # with 403 whatever it would do on a bucket of that name held by another account.
            self.client.meta.events.register("before-parameter-build.s3.*", self._expect_owner)

    def _expect_owner(self, params: dict, model, **_: object) -> None:
        if params.get("Bucket") == self.bucket and "ExpectedBucketOwner" in model.input_shape.members:
            params.setdefault("ExpectedBucketOwner", self.owner)

    def full(self, key: str) -> str:
        return self.prefix + key

    def where(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.full(key)}"

    def list(self) -> Iterator[ObjectInfo]:
        with _guard(self.uri):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    key = obj["Key"][len(self.prefix):]
                    if key and not is_hidden(key):
                        yield ObjectInfo(key, obj["Size"], obj["ETag"].strip('"'))

    def list_under(self, under: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with `under`, the kit's hidden ones included."""
        with _guard(self.uri):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + under)
            for page in pages:
                for obj in page.get("Contents", []):
                    yield ObjectInfo(obj["Key"][len(self.prefix):], obj["Size"], obj["ETag"].strip('"'))

    def stat(self, key: str) -> ObjectInfo | None:
        botocore = require("botocore.exceptions", "storage")
        with _guard(self.where(key)):
            try:
                resp = self.client.head_object(Bucket=self.bucket, Key=self.full(key))
            except botocore.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise
        return ObjectInfo(key, resp["ContentLength"], resp["ETag"].strip('"'),
                          resp.get("Metadata", {}).get("sha256"))

    def read(self, key: str, start: int = 0, end: int | None = None,
             etag: str | None = None) -> bytes:
        extra = {"IfMatch": f'"{etag}"'} if etag else {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        if end is not None and end <= start:
            return b""
        with _guard(self.where(key)):
            return self.client.get_object(Bucket=self.bucket, Key=self.full(key), **extra)["Body"].read()

    def put(self, key: str, data: bytes, sha256: str | None = None) -> None:
        meta = {"Metadata": {"sha256": sha256}} if sha256 else {}
        with _guard(self.where(key)):
            self.client.put_object(Bucket=self.bucket, Key=self.full(key), Body=data, **meta, **self.sse)

    def create(self, key: str, data: bytes, sha256: str | None = None) -> bool:
        """Write an object only where none exists (S3 conditional write, If-None-Match: *);
        False when the name is taken."""
        botocore = require("botocore.exceptions", "storage")
        meta = {"Metadata": {"sha256": sha256}} if sha256 else {}
        with _guard(self.where(key)):
            try:
                self.client.put_object(Bucket=self.bucket, Key=self.full(key), Body=data,
                                       IfNoneMatch="*", **meta, **self.sse)
            except botocore.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in (
                        "PreconditionFailed", "412", "ConditionalRequestConflict"):
                    return False
                raise
        return True

    def delete(self, key: str) -> None:
        with _guard(self.where(key)):
            self.client.delete_object(Bucket=self.bucket, Key=self.full(key))

    def begin(self, key: str, size: int, sha256: str, part_size: int,
              read_part: Callable[[int], bytes]) -> S3Upload:
        return S3Upload(self, key, size, sha256, part_size, read_part)
