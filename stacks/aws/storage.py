"""Buckets: the kit's own (artifacts, model mirror) and the customer's data bucket.

Kit buckets: SSE-KMS with the stack key, versioning, every public-access switch on, ACLs
disabled, a policy that denies anything but TLS 1.2+, and retainOnDelete (with the settings
that protect them) unless purging. The data bucket is only read (`Bucket.get`): Pulumi
never creates, changes or deletes it.

A kit bucket kept by an earlier `kit down` is adopted (`import_`, its name from the stack
config's `adopt`, which `kit up` fills in: kit/adopt.py) rather than created again. Its
settings resources are simply written again: each is a PUT of the whole configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from kit.errors import KitError
from stacks.aws.common import Ctx, policy, statement
from stacks.aws.names import KIT_BUCKETS, kit_bucket_name

SSE = "s3:x-amz-server-side-encryption"
SSE_KEY = "s3:x-amz-server-side-encryption-aws-kms-key-id"


@dataclass
class Buckets:
    artifacts: aws.s3.Bucket
    models: aws.s3.Bucket
    data: aws.s3.Bucket
    names: dict[str, str]


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/prefix/ -> (bucket, "prefix/"), through the kit's one URI parser."""
    from kit.data.storage import parse_uri

    loc = parse_uri(uri)
    if loc.scheme != "s3":
        raise KitError(f"data.uri: {uri!r} is not an s3:// bucket URI",
                       hint="target aws reads the data from S3: s3://bucket/prefix/")
    return loc.bucket, loc.prefix


def bucket_name(ctx: Ctx, purpose: str) -> str:
    return kit_bucket_name(ctx.name, purpose, ctx.account)


def buckets(ctx: Ctx, data_uri: str, key_arn: pulumi.Input[str]) -> Buckets:
    data_name, _ = parse_s3_uri(data_uri)
    made = {p: _kit_bucket(ctx, p, key_arn) for p in KIT_BUCKETS}
    data = aws.s3.Bucket.get("data", data_name, opts=ctx.opts())
    return Buckets(artifacts=made["artifacts"], models=made["models"], data=data,
                   names={p: bucket_name(ctx, p) for p in KIT_BUCKETS})


def _kit_bucket(ctx: Ctx, purpose: str, key_arn: pulumi.Input[str]) -> aws.s3.Bucket:
    keep = not ctx.purge
    b = aws.s3.Bucket(purpose, bucket=bucket_name(ctx, purpose), force_destroy=ctx.purge,
                      object_lock_enabled=False,
                      opts=ctx.opts(retain_on_delete=keep, import_=ctx.adopt.get(purpose)))
    child = ctx.opts(parent=b, retain_on_delete=keep)
    block = aws.s3.BucketPublicAccessBlock(
        f"{purpose}-public-access", bucket=b.id, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=child)
    aws.s3.BucketOwnershipControls(f"{purpose}-ownership", bucket=b.id,
                                   rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{purpose}-encryption", bucket=b.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                            "kms_master_key_id": key_arn},
                "bucket_key_enabled": True}], opts=child)
    aws.s3.BucketVersioning(f"{purpose}-versioning", bucket=b.id,
                            versioning_configuration={"status": "Enabled"}, opts=child)
    aws.s3.BucketLifecycleConfiguration(
        f"{purpose}-lifecycle", bucket=b.id,
        rules=[{"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7}},
               {"id": "expire-old-versions", "status": "Enabled", "filter": {},
                "noncurrent_version_expiration": {"noncurrent_days": 90}}],
        opts=child)
    objects = pulumi.Output.concat(b.arn, "/*")
    aws.s3.BucketPolicy(
        f"{purpose}-policy", bucket=b.id,
        policy=policy(
            statement("Deny", ["s3:*"], [b.arn, objects], Sid="DenyInsecureTransport",
                      Principal="*", Condition={"Bool": {"aws:SecureTransport": "false"}}),
            statement("Deny", ["s3:*"], [b.arn, objects], Sid="DenyOldTls", Principal="*",
                      Condition={"NumericLessThan": {"s3:TlsVersion": "1.2"}}),
            # Uploads carry the kit's key: the bucket's default, or named explicitly; never
            # another key, S3's own encryption, or the account's aws/s3 key.
            statement("Deny", ["s3:PutObject"], [objects], Sid="DenyOtherKeys", Principal="*",
                      Condition={"StringNotEquals": {SSE_KEY: key_arn}, "Null": {SSE_KEY: "false"}}),
            statement("Deny", ["s3:PutObject"], [objects], Sid="DenyOtherEncryption", Principal="*",
                      Condition={"StringNotEquals": {SSE: "aws:kms"}, "Null": {SSE: "false"}}),
            statement("Deny", ["s3:PutObject"], [objects], Sid="DenyManagedKey", Principal="*",
                      Condition={"StringEquals": {SSE: "aws:kms"}, "Null": {SSE_KEY: "true"}}),
        ),
        # S3 rejects a policy while the public access block is being written.
        opts=ctx.opts(parent=b, retain_on_delete=keep, depends_on=[block]))
    return b
