"""AWS preflight (`kit doctor`): credentials (and the account kit.yaml names), GPU quota for a
full pool, the Auto Scaling service-linked role, and the S3 bucket of Pulumi state. Each check
answers in seconds, creates nothing, and says how to fix what is missing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from kit.errors import KitError
from stacks.clouds import Check

if TYPE_CHECKING:
    from kit.config import KitConfig

# Quota names (Service Quotas, service "ec2") by instance family and capacity type; the most
# specific name that exists in the account's list wins.
QUOTA_NAMES = {("g", False): ["Running On-Demand G and VT instances"],
               ("g", True): ["All G and VT Spot Instance Requests"],
               ("p", False): ["Running On-Demand P instances"],
               ("p", True): ["All P5 Spot Instance Requests", "All P Spot Instance Requests"]}


def checks(cfg: "KitConfig") -> list[Callable[["KitConfig"], Check]]:
    # Imported here, on the calling thread: the checks then run on parallel threads, and two
    # threads importing one package for the first time can deadlock on the import lock.
    import boto3  # noqa: F401
    import botocore.config  # noqa: F401
    import botocore.exceptions  # noqa: F401

    found = [identity, gpu_quota, autoscaling_role]
    if cfg.aws.capacity_reservation:
        found.append(capacity_reservation)
    return found


def _boto_config():
    from botocore.config import Config

    return Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 1})


def identity(cfg: "KitConfig") -> Check:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        ident = boto3.client("sts", region_name=cfg.region, config=_boto_config()).get_caller_identity()
    except NoCredentialsError:
        return Check("aws credentials", False, "none found",
                     "`aws sso login` / `aws configure`, or set AWS_PROFILE")
    except (BotoCoreError, ClientError) as exc:
        return Check("aws credentials", False, " ".join(str(exc).split())[:160],
                     "refresh them: `aws sso login`, or check AWS_PROFILE")
    wanted = cfg.aws.account_id
    if wanted and ident["Account"] != wanted:
        return Check("aws credentials", False,
                     f"account {ident['Account']}, but aws.account_id is {wanted}",
                     "switch credentials (AWS_PROFILE), or correct aws.account_id")
    return Check("aws credentials", True, f"account {ident['Account']} as {ident['Arn']}")


def gpu_need(cfg: "KitConfig") -> tuple[str, int]:
    """(smallest instance type of the GPU pool, vCPUs a full pool needs)."""
    from stacks.aws import SUPPORT

    offer = SUPPORT.gpu_offer(cfg.gpu.type, cfg.gpu.count)
    return offer.machine_types[0], offer.vcpus * cfg.gpu.max_nodes


def gpu_quota(cfg: "KitConfig") -> Check:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = boto3.client("service-quotas", region_name=cfg.region, config=_boto_config())
        quotas = {q["QuotaName"]: q for page in client.get_paginator("list_service_quotas")
                  .paginate(ServiceCode="ec2") for q in page["Quotas"]}
    except (BotoCoreError, ClientError) as exc:
        return Check("gpu quota", False, f"cannot read Service Quotas: {' '.join(str(exc).split())[:120]}",
                     "allow servicequotas:ListServiceQuotas, or check the quota in the console")
    return quota_check(cfg, quotas)


def quota_check(cfg: "KitConfig", quotas: dict[str, dict[str, Any]]) -> Check:
    """The GPU pool's vCPU need against the account's EC2 quotas (QuotaName -> quota)."""
    try:
        instance, need = gpu_need(cfg)
    except KitError as exc:
        return Check("gpu quota", False, exc.message, exc.hint)
    wanted = QUOTA_NAMES[(instance[0], cfg.gpu.spot)]
    quota = next((quotas[n] for n in wanted if n in quotas), None)
    if quota is None:
        return Check("gpu quota", False, f"no quota named {wanted[0]!r} in {cfg.region}",
                     "check EC2 quotas in the Service Quotas console")
    have = int(quota.get("Value", 0))
    what = f"{quota['QuotaName']}: {have} vCPUs; {cfg.gpu.max_nodes} x {instance} need {need}"
    if have < need:
        return Check("gpu quota", False, what,
                     f"aws service-quotas request-service-quota-increase --service-code ec2 "
                     f"--quota-code {quota['QuotaCode']} --desired-value {need} --region {cfg.region}")
    return Check("gpu quota", True, what)


USABLE = {"default": ("active",), "capacity-block": ("active", "scheduled", "payment-pending")}


def capacity_reservation(cfg: "KitConfig") -> Check:
    """aws.capacity_reservation exists in the region, holds the GPU pool's instance type, is
    the kind kit.yaml says (an On-Demand Capacity Reservation, or a Capacity Block with
    aws.capacity_block) and can be launched into now (a Capacity Block: before its start too)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    wanted = cfg.aws.capacity_reservation
    try:
        found = boto3.client("ec2", region_name=cfg.region, config=_boto_config()) \
            .describe_capacity_reservations(CapacityReservationIds=[wanted])["CapacityReservations"]
    except (BotoCoreError, ClientError) as exc:
        return Check("capacity reservation", False, f"{wanted}: {' '.join(str(exc).split())[:140]}",
                     f"check the id in {cfg.region} (aws ec2 describe-capacity-reservations)")
    return reservation_check(cfg, found[0] if found else None)


def reservation_check(cfg: "KitConfig", found: dict[str, Any] | None) -> Check:
    wanted = cfg.aws.capacity_reservation
    if found is None:
        return Check("capacity reservation", False, f"{wanted}: not found in {cfg.region}",
                     "aws.capacity_reservation: an id from aws ec2 describe-capacity-reservations")
    try:
        instance, _ = gpu_need(cfg)
    except KitError as exc:
        return Check("capacity reservation", False, exc.message, exc.hint)
    kind = found.get("ReservationType", "default")
    where = f"{wanted} ({found['InstanceType']} x {found.get('TotalInstanceCount', '?')} in " \
            f"{found.get('AvailabilityZone', '?')}, {found['State']})"
    if found["InstanceType"] != instance:
        return Check("capacity reservation", False, f"{where}: the GPU pool launches {instance}",
                     f"reserve {instance}, or change gpu.type / gpu.count to match")
    if found.get("AvailabilityZone") != cfg.aws.capacity_reservation_zone:
        return Check("capacity reservation", False,
                     f"{where}, but aws.capacity_reservation_zone is {cfg.aws.capacity_reservation_zone}",
                     f"set aws.capacity_reservation_zone: {found.get('AvailabilityZone')}")
    if (kind == "capacity-block") != cfg.aws.capacity_block:
        fix = ("set aws.capacity_block: true" if kind == "capacity-block"
               else "remove aws.capacity_block: it is an On-Demand Capacity Reservation")
        return Check("capacity reservation", False, f"{where} is a {kind} reservation", fix)
    if found["State"] not in USABLE.get(kind, ("active",)):
        return Check("capacity reservation", False, f"{where}: nothing can launch into it",
                     "use an active reservation (a Capacity Block: scheduled or active)")
    return Check("capacity reservation", True, where)


AUTOSCALING_ROLE_NAME = "AWSServiceRoleForAutoScaling"


def autoscaling_role(cfg: "KitConfig") -> Check:
    """The role EC2 Auto Scaling launches the node groups' instances as (their disks use the
    stack's key). An account that never used Auto Scaling has none until the first Auto
    Scaling group creates it, which needs iam:CreateServiceLinkedRole of whoever creates the
    node group (EKS user guide, "Using service-linked roles for Amazon EKS node groups"; EC2
    Auto Scaling user guide, "Service-linked roles for Amazon EC2 Auto Scaling", read
    2026-12-07). The key policy admits the role by condition (stacks/aws/keys.py), so its
    absence does not stop the key; being unable to create it would stop the node groups."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    iam = boto3.client("iam", region_name=cfg.region, config=_boto_config())
    try:
        role = iam.get_role(RoleName=AUTOSCALING_ROLE_NAME)["Role"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code != "NoSuchEntity":
            return Check("autoscaling role", False,
                         f"cannot read {AUTOSCALING_ROLE_NAME}: {' '.join(str(exc).split())[:120]}",
                         "allow iam:GetRole on it, or create it: aws iam "
                         "create-service-linked-role --aws-service-name autoscaling.amazonaws.com")
        return Check("autoscaling role", False,
                     f"{AUTOSCALING_ROLE_NAME} does not exist in this account yet (it never "
                     "used EC2 Auto Scaling)",
                     "create it once: aws iam create-service-linked-role --aws-service-name "
                     "autoscaling.amazonaws.com (or let `kit up` create it with the first node "
                     "group, which needs iam:CreateServiceLinkedRole)")
    except BotoCoreError as exc:
        return Check("autoscaling role", False, " ".join(str(exc).split())[:160],
                     "check the credentials (`kit doctor`)")
    return Check("autoscaling role", True, f"{role['Arn']} exists")


def state_bucket(cfg: "KitConfig") -> Check:
    """s3:// Pulumi state: the bucket answers."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from kit.data.storage import parse_uri

    url = cfg.state_url
    bucket = parse_uri(url).bucket
    try:
        boto3.client("s3", region_name=cfg.region, config=_boto_config()).head_bucket(Bucket=bucket)
    except (BotoCoreError, ClientError) as exc:
        return Check("state", False, f"{url}: {' '.join(str(exc).split())[:140]}",
                     f"create it (private, versioned): aws s3 mb s3://{bucket}")
    return Check("state", True, url)
