"""Buckets: the kit's own (artifacts, model mirror) and the customer's data bucket.

Kit buckets: uniform bucket-level access (IAM only, no ACLs), public access prevention
enforced, the kit's key by default with Google-managed and customer-supplied encryption
refused for new objects, versioning and a 30-day soft delete (nothing overwritten or deleted
is lost), and retainOnDelete unless purging. A kit bucket kept by an earlier `kit down` is
adopted (`import_`) rather than created again.

The data bucket is only read (`Bucket.get`): the program never creates, changes or deletes it;
the only thing it adds there is read access for the trainer on the data's prefix (an IAM
member with a condition, removed again by `kit down`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from kit.errors import KitError
from stacks.gcp.common import Ctx
from stacks.gcp.names import KIT_BUCKETS, kit_bucket_name

SOFT_DELETE_S = 30 * 24 * 3600
REFUSED = {"restriction_mode": "FullyRestricted"}


@dataclass
class Buckets:
    artifacts: gcp.storage.Bucket
    models: gcp.storage.Bucket
    data_name: str
    data_prefix: str
    names: dict[str, str]


def parse_gs_uri(uri: str, key: str = "data.uri") -> tuple[str, str]:
    """gs://bucket/prefix/ -> (bucket, "prefix/"), through the kit's one URI parser."""
    from kit.data.storage import parse_uri

    loc = parse_uri(uri)
    if loc.scheme != "gs":
        raise KitError(f"{key}: {uri!r} is not a gs:// bucket URI",
                       hint="target gcp reads the data from Cloud Storage: gs://bucket/prefix/")
    return loc.bucket, loc.prefix


def buckets(ctx: Ctx, data_uri: str, key_id: pulumi.Input[str],
            after: list[pulumi.Resource]) -> Buckets:
    """`after`: the key's grant to Cloud Storage's service agent (a bucket's default key must
    be usable when the bucket is created)."""
    data_name, data_prefix = parse_gs_uri(data_uri)
    names = {p: kit_bucket_name(ctx.name, p, ctx.project) for p in KIT_BUCKETS}
    made = {p: _kit_bucket(ctx, p, names[p], key_id, after) for p in KIT_BUCKETS}
    gcp.storage.Bucket.get("data", data_name, opts=ctx.opts())
    return Buckets(artifacts=made["artifacts"], models=made["models"], data_name=data_name,
                   data_prefix=data_prefix, names=names)


def _kit_bucket(ctx: Ctx, purpose: str, name: str, key_id: pulumi.Input[str],
                after: list[pulumi.Resource]) -> gcp.storage.Bucket:
    return gcp.storage.Bucket(
        purpose, name=name, location=ctx.region.upper(), storage_class="STANDARD",
        uniform_bucket_level_access=True, public_access_prevention="enforced",
        encryption={"default_kms_key_name": key_id,
                    "google_managed_encryption_enforcement_config": dict(REFUSED),
                    "customer_supplied_encryption_enforcement_config": dict(REFUSED)},
        versioning={"enabled": True},
        soft_delete_policy={"retention_duration_seconds": SOFT_DELETE_S},
        lifecycle_rules=[
            {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
            # parts of composite uploads the trainer may not delete (kit/data/stores/gcs.py)
            {"action": {"type": "Delete"}, "condition": {"age": 7, "matches_suffixes": [".kit-part"]}},
            {"action": {"type": "Delete"}, "condition": {"days_since_noncurrent_time": 1,
                                                         "matches_suffixes": [".kit-part"]}},
            {"action": {"type": "Delete"},
             "condition": {"days_since_noncurrent_time": 90, "with_state": "ARCHIVED"}}],
        force_destroy=ctx.purge,
        opts=ctx.opts(retain_on_delete=not ctx.purge, import_=ctx.adopt.get(purpose),
                      depends_on=after))


def prefix_condition(bucket: pulumi.Input[str], prefix: str, title: str) -> dict:
    """An IAM condition admitting the objects under `prefix` and listing with that prefix
    only (Cloud Storage's objectListPrefix attribute); the whole bucket when prefix is "".
    Conditions need the bucket's uniform bucket-level access (`kit doctor` checks the data's)."""
    if '"' in prefix or "\\" in prefix:
        raise KitError(f"{title}: the prefix {prefix!r} holds a quote or a backslash, which an IAM "
                       "condition cannot carry", hint="use a prefix without them")
    objects = pulumi.Output.concat('resource.name.startsWith("projects/_/buckets/', bucket,
                                   f'/objects/{prefix}")')
    listing = ('(resource.type == "storage.googleapis.com/Bucket" && api.getAttribute('
               f'"storage.googleapis.com/objectListPrefix", "").startsWith("{prefix}"))')
    return {"title": title, "description": f"objects under {prefix or '/'} only",
            "expression": pulumi.Output.concat(objects, " || ", listing)}


def grant(ctx: Ctx, logical: str, bucket: pulumi.Input[str], role: str,
          member: pulumi.Input[str], prefix: str | None, parent: pulumi.Resource) -> gcp.storage.BucketIAMMember:
    """Additive (never replaces the bucket's policy); prefix None: the whole bucket."""
    condition = prefix_condition(bucket, prefix, logical) if prefix is not None else None
    return gcp.storage.BucketIAMMember(logical, bucket=bucket, role=role, member=member,
                                       condition=condition, opts=ctx.opts(parent=parent))
