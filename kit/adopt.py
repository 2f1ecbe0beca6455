"""Adopt what an earlier deployment of the same stack kept.

`kit down` without --purge keeps the kit's buckets (artifacts, model mirror) and its KMS key
(retainOnDelete), and Pulumi forgets them. Their names are deterministic, so the next
`kit up` would collide with them (BucketAlreadyOwnedByYou, an alias that already exists).
Before `pulumi up`, the kit asks AWS which of them exist and carry this stack's tag, and
passes their ids to the program (stack config `adopt`), which imports them. A resource with
the kit's name but not this stack's tag belongs to someone else: the kit refuses to touch it.

Only resources the stack's state does not already hold are looked up, so an ordinary second
`kit up` makes no AWS call here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from kit.errors import KitError, require
from stacks.settings import KEY, KEY_ALIAS, KIT_BUCKETS, key_alias_name, kit_bucket_name

if TYPE_CHECKING:
    from kit.config import KitConfig

STACK_TAG = "lima-kit:stack"  # stacks/aws/common.py tags every resource with it

BUCKET_TYPE = "aws:s3/bucket:Bucket"
KEY_TYPE = "aws:kms/key:Key"
ALIAS_TYPE = "aws:kms/alias:Alias"

Client = Callable[[str], Any]  # service name -> boto3 client


def adoptable() -> dict[str, str]:
    """Logical name -> Pulumi type of every resource the kit keeps and may adopt."""
    return {**dict.fromkeys(KIT_BUCKETS, BUCKET_TYPE), KEY: KEY_TYPE, KEY_ALIAS: ALIAS_TYPE}


def managed(deployment: dict[str, Any]) -> set[str]:
    """Logical names of adoptable resources the stack's state already holds."""
    table = adoptable()
    held = set()
    for res in deployment.get("resources") or []:
        name = str(res.get("urn", "")).rsplit("::", 1)[-1]
        if table.get(name) == res.get("type") and not res.get("delete"):
            held.add(name)
    return held


def adoptions(cfg: "KitConfig", deployment: dict[str, Any], client: Client | None = None) -> dict[str, str]:
    """Logical name -> physical id of each kept resource of this stack to import on `up`."""
    if cfg.target != "aws":
        return {}
    wanted = set(adoptable()) - managed(deployment)
    if not wanted:
        return {}
    if client is None:
        client = _boto_client(cfg)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _detect(cfg, wanted, client)
    except (BotoCoreError, ClientError) as exc:
        raise KitError(f"aws: cannot check for resources kept by an earlier `kit down` of "
                       f"{cfg.name}: {' '.join(str(exc).split())[:200]}",
                       hint="check the credentials (`kit doctor`); the operator needs "
                            "s3:ListBucket, s3:GetBucketTagging, kms:DescribeKey, "
                            "kms:ListResourceTags") from None


def _boto_client(cfg: "KitConfig") -> Client:
    boto3 = require("boto3", "aws")
    from botocore.config import Config

    conf = Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 3})
    return lambda service: boto3.client(service, region_name=cfg.region, config=conf)


def _detect(cfg: "KitConfig", wanted: set[str], client: Client) -> dict[str, str]:
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
        key_id = _kept_key(cfg, client("kms"))
        if key_id:
            found[KEY] = key_id
            if KEY_ALIAS in wanted:
                found[KEY_ALIAS] = key_alias_name(cfg.name)
    return found


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


def _kept_key(cfg: "KitConfig", kms: Any) -> str:
    """The id of this stack's kept, usable key behind its alias; "" when there is no alias."""
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
