"""AWS: adopt what an earlier deployment of the same stack kept, or purge it.

`kit down` without --purge keeps the kit's buckets (artifacts, model mirror) and its KMS key
(retainOnDelete), and Pulumi forgets them. Their names are deterministic, so the next
`kit up` would collide with them (BucketAlreadyOwnedByYou, an alias that already exists).
Before `pulumi up`, the kit asks AWS which of them exist and carry this stack's tag, and
passes their ids to the program (stack config `adopt`), which imports them. A resource with
the kit's name but not this stack's tag belongs to someone else: the kit refuses to touch it.

Only resources the stack's state does not already hold are looked up, so an ordinary second
`kit up` makes no AWS call here.

`kit down --purge` after a plain `kit down` finds the same kept resources the same way (same
tag check) and deletes them directly: the stack's state is empty, and the purge `up` would
rebuild the whole stack just to destroy it again.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

from kit.errors import KitError, require
from stacks.aws.names import (
    KEY,
    KEY_ALIAS,
    KIT_BUCKETS,
    LOG_GROUPS,
    STACK_TAG,
    key_alias_name,
    kit_bucket_name,
    log_group_name,
)

if TYPE_CHECKING:
    from kit.config import KitConfig

BUCKET_TYPE = "aws:s3/bucket:Bucket"
LOG_GROUP_TYPE = "aws:cloudwatch/logGroup:LogGroup"
KEY_TYPE = "aws:kms/key:Key"
ALIAS_TYPE = "aws:kms/alias:Alias"

Client = Callable[[str], Any]  # service name -> boto3 client


def adoptable() -> dict[str, str]:
    """Logical name -> Pulumi type of every resource the kit keeps and may adopt."""
    return {**dict.fromkeys(KIT_BUCKETS, BUCKET_TYPE), KEY: KEY_TYPE, KEY_ALIAS: ALIAS_TYPE,
            **dict.fromkeys(LOG_GROUPS, LOG_GROUP_TYPE)}


def managed(deployment: dict[str, Any]) -> set[str]:
    """Logical names of adoptable resources the stack's state already holds."""
    from stacks.settings import held_in_state

    return held_in_state(deployment, adoptable())


DETECT_PERMISSIONS = ("s3:ListBucket, s3:GetBucketTagging, kms:DescribeKey, kms:ListResourceTags, "
                      "logs:DescribeLogGroups, logs:ListTagsForResource")
PURGE_PERMISSIONS = ("s3:ListBucketVersions, s3:DeleteObjectVersion, s3:DeleteBucket, "
                     "kms:ScheduleKeyDeletion, kms:DeleteAlias, logs:DeleteLogGroup")


def adoptions(cfg: "KitConfig", deployment: dict[str, Any]) -> dict[str, str]:
    """Logical name -> physical id of each kept resource of this stack to import on `up`."""
    return find_adoptions(cfg, deployment, _boto_client(cfg))


def find_adoptions(cfg: "KitConfig", deployment: dict[str, Any], client: Client) -> dict[str, str]:
    """As `adoptions`, asking AWS through `client` (service name -> boto3 client); only for
    what the state does not hold already, so an ordinary second `kit up` asks nothing."""
    wanted = set(adoptable()) - managed(deployment)
    if not wanted:
        return {}
    with _aws_errors(f"cannot check for resources kept by an earlier `kit down` of {cfg.name}",
                     DETECT_PERMISSIONS):
        return _detect(cfg, wanted, client)


def purge(cfg: "KitConfig") -> list[str]:
    """`kit down --purge` of a stack whose state is empty: delete what a plain `kit down`
    kept, checked as for adoption first (nothing is deleted if any name is someone else's)."""
    return purge_with(cfg, _boto_client(cfg))


def purge_with(cfg: "KitConfig", client: Client) -> list[str]:
    """As `purge`, through `client` (service name -> boto3 client)."""
    with _aws_errors(f"cannot check for resources kept by an earlier `kit down` of {cfg.name}",
                     DETECT_PERMISSIONS):
        found = _detect(cfg, set(adoptable()), client, purging=True)
    return purge_kept(cfg, found, client)


def purge_kept(cfg: "KitConfig", found: dict[str, str], client: Client) -> list[str]:
    """Delete the kept resources `found` (logical name -> physical id, as detected): each
    bucket emptied of every version and delete marker, then removed; the key scheduled for
    deletion (7 days, the minimum) and its alias removed. Returns one line per deletion."""
    data = _bucket_of(cfg.data.uri)
    if data and data in {found.get(p) for p in KIT_BUCKETS}:
        raise KitError(f"s3://{data}: holds this deployment's data (data.uri) and is one of the "
                       f"kit's own buckets; nothing was deleted",
                       hint="move the data to a bucket of your own, then run `kit down --purge` again")
    done: list[str] = []
    with _aws_errors(f"deleting what an earlier `kit down` of {cfg.name} kept failed (run "
                     "`kit down --purge` again to delete what is left)", PURGE_PERMISSIONS):
        for purpose in KIT_BUCKETS:
            if purpose in found:
                count = _empty_bucket(client("s3"), found[purpose])
                client("s3").delete_bucket(Bucket=found[purpose])
                done.append(f"deleted bucket s3://{found[purpose]} ({count} object version(s) "
                            "and delete marker(s))")
        if KEY in found:
            done.append(_schedule_key_deletion(client("kms"), found[KEY]))
        if KEY_ALIAS in found:
            client("kms").delete_alias(AliasName=found[KEY_ALIAS])
            done.append(f"deleted kms alias {found[KEY_ALIAS]}")
        for logical in LOG_GROUPS:
            if logical in found:
                client("logs").delete_log_group(logGroupName=found[logical])
                done.append(f"deleted log group {found[logical]} (the audit trail; --purge)")
    return done


def _bucket_of(uri: str) -> str:
    from kit.data.storage import parse_uri

    loc = parse_uri(uri)
    return loc.bucket if loc.scheme == "s3" else ""


def _empty_bucket(s3: Any, name: str) -> int:
    """Delete every object version and delete marker, a page (<= 1000 keys) at a time. Each
    page is listed from the start again: a continuation marker may name a deleted version."""
    count = 0
    while True:
        page = s3.list_object_versions(Bucket=name, MaxKeys=1000)  # versions + markers <= 1000
        keys = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]
        if not keys:
            return count
        errors = s3.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True}).get("Errors")
        if errors:
            first = errors[0]
            raise KitError(f"s3://{name}/{first.get('Key')}: cannot delete ({first.get('Code')}: "
                           f"{first.get('Message')}); {len(errors)} object version(s) left",
                           hint="check the bucket policy and object lock, then run `kit down "
                                f"--purge` again (it needs {PURGE_PERMISSIONS})")
        count += len(keys)


def _schedule_key_deletion(kms: Any, key_id: str) -> str:
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    if meta.get("KeyState") == "PendingDeletion":
        return f"kms key {key_id} was already scheduled for deletion ({meta.get('DeletionDate')})"
    when = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7).get("DeletionDate")
    return (f"scheduled kms key {key_id} for deletion on {when} (until then: aws kms "
            f"cancel-key-deletion --key-id {key_id})")


@contextmanager
def _aws_errors(what: str, permissions: str) -> Iterator[None]:
    """AWS SDK failures -> one KitError line that names the permissions involved."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise KitError(f"aws: {what}: {' '.join(str(exc).split())[:200]}",
                       hint=f"check the credentials (`kit doctor`); the operator needs "
                            f"{permissions}") from None


def _boto_client(cfg: "KitConfig") -> Client:
    boto3 = require("boto3", "aws")
    from botocore.config import Config

    conf = Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 3})
    return lambda service: boto3.client(service, region_name=cfg.region, config=conf)


def _detect(cfg: "KitConfig", wanted: set[str], client: Client, *,
            purging: bool = False) -> dict[str, str]:
    found: dict[str, str] = {}
    buckets = [p for p in KIT_BUCKETS if p in wanted]
    if buckets:
        account = client("sts").get_caller_identity()["Account"]
        s3 = client("s3")
        for purpose in buckets:
            name = kit_bucket_name(cfg.name, purpose, account)
            if _kept_bucket(cfg, s3, name, account):
                found[purpose] = name
    if KEY in wanted:
        key_id = _kept_key(cfg, client("kms"), usable=not purging)
        if key_id:
            found[KEY] = key_id
            if KEY_ALIAS in wanted:
                found[KEY_ALIAS] = key_alias_name(cfg.name)
    for logical in (g for g in LOG_GROUPS if g in wanted):
        name = log_group_name(cfg.name, logical)
        if _kept_log_group(cfg, client("logs"), name):
            found[logical] = name
    return found


def _kept_log_group(cfg: "KitConfig", logs: Any, name: str) -> bool:
    """True: this stack's kept log group. False: none. KitError: the name is someone else's."""
    groups = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
    group = next((g for g in groups if g.get("logGroupName") == name), None)
    if group is None:
        return False
    arn = group["arn"].removesuffix(":*")
    tags = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
    _require_tag(f"log group {name}", tags, cfg.name,
                 "a log group the kit did not create for this stack; it is never adopted. Rename "
                 "the deployment (name: in kit.yaml), or export and delete that group")
    return True


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _kept_bucket(cfg: "KitConfig", s3: Any, name: str, account: str) -> bool:
    """True: this stack's kept bucket. False: no such bucket. KitError: the name is taken."""
    from botocore.exceptions import ClientError

    where = f"s3://{name}"
    try:
        head = s3.head_bucket(Bucket=name, ExpectedBucketOwner=account)
    except ClientError as exc:
        code = _code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return False
        if code in ("301", "PermanentRedirect"):
            region = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(
                "x-amz-bucket-region", "another region")
            raise KitError(f"{where}: a bucket with the kit's name for {cfg.name} exists in "
                           f"{region}, not {cfg.region}",
                           hint="set region: back to where the stack was deployed, or rename the "
                                "deployment (name: in kit.yaml)") from None
        if code in ("403", "AccessDenied"):
            raise KitError(f"{where}: the kit's bucket name for {cfg.name} is taken by a bucket "
                           "this account does not own (or may not list)",
                           hint="bucket names are global: rename the deployment (name: in kit.yaml)"
                           ) from None
        raise
    region = head.get("BucketRegion") or head.get("ResponseMetadata", {}).get(
        "HTTPHeaders", {}).get("x-amz-bucket-region")
    if region and cfg.region and region != cfg.region:
        raise KitError(f"{where}: a bucket with the kit's name for {cfg.name} exists in {region}, "
                       f"not {cfg.region}",
                       hint="set region: back to where the stack was deployed, or rename the "
                            "deployment (name: in kit.yaml)")
    try:
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(
            Bucket=name, ExpectedBucketOwner=account).get("TagSet", [])}
    except ClientError as exc:
        if _code(exc) != "NoSuchTagSet":
            raise
        tags = {}
    _require_tag(where, tags, cfg.name,
                 "a bucket the kit did not create for this stack; it is never adopted. Rename "
                 "the deployment (name: in kit.yaml), or move the data and delete that bucket")
    return True


def _kept_key(cfg: "KitConfig", kms: Any, *, usable: bool = True) -> str:
    """The id of this stack's kept key behind its alias (usable: Enabled, for adoption);
    "" when there is no alias."""
    from botocore.exceptions import ClientError

    alias = key_alias_name(cfg.name)
    try:
        meta = kms.describe_key(KeyId=alias)["KeyMetadata"]
    except ClientError as exc:
        if _code(exc) == "NotFoundException":
            return ""
        raise
    key_id = meta["KeyId"]
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id).get("Tags", [])}
    _require_tag(f"kms {alias} ({key_id})", tags, cfg.name,
                 f"the alias points at a key the kit did not create for this stack. Point it "
                 f"elsewhere or delete it: aws kms delete-alias --alias-name {alias}")
    state = meta.get("KeyState", "Enabled")
    if not usable:
        return key_id
    if state == "PendingDeletion":
        raise KitError(f"kms {alias} ({key_id}): the key the kept buckets of {cfg.name} are "
                       "encrypted with is scheduled for deletion",
                       hint=f"keep it: aws kms cancel-key-deletion --key-id {key_id} && "
                            f"aws kms enable-key --key-id {key_id}")
    if state == "Disabled":
        raise KitError(f"kms {alias} ({key_id}): the key of {cfg.name} is disabled",
                       hint=f"aws kms enable-key --key-id {key_id}")
    if state != "Enabled":
        raise KitError(f"kms {alias} ({key_id}): the key of {cfg.name} is {state}",
                       hint="wait until it is Enabled, or delete the alias to start with a new key")
    return key_id


def _require_tag(where: str, tags: dict[str, str], name: str, hint: str) -> None:
    value = tags.get(STACK_TAG)
    if value != name:
        found = f"tagged {STACK_TAG}={value}" if value else f"not tagged {STACK_TAG}"
        raise KitError(f"{where}: exists but is {found}, not {STACK_TAG}={name}", hint=hint)
