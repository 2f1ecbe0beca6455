"""After `kit down`: what is still tagged with the stack on AWS, and how to remove each.

The kept buckets are listed as kept (by design); anything else (a security group a load
balancer controller made, an ENI, a volume) is listed with the command that removes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kit.errors import require
from stacks.aws.names import STACK_TAG

if TYPE_CHECKING:
    from kit.config import KitConfig


def report(cfg: "KitConfig", saved: dict[str, Any], purge: bool) -> list[str]:
    """Leak report lines for a torn-down deployment (saved: its last stack outputs)."""
    from kit.data.storage import parse_uri

    boto3 = require("boto3", "aws")
    kept = [] if purge else [parse_uri(u).bucket for u in
                             (saved.get("artifacts_uri"), saved.get("models_uri")) if u]
    client = boto3.client("resourcegroupstaggingapi", region_name=cfg.region)
    return leak_report(client, cfg.name, saved.get("cluster_name") or cfg.name, kept,
                       keep_logs=not purge)


# ARN service[:resource type] -> how to remove it by hand ({arn}, {id} filled in).
REMOVE_HINTS = {
    "ec2:security-group": "aws ec2 delete-security-group --group-id {id}",
    "ec2:volume": "aws ec2 delete-volume --volume-id {id}",
    "ec2:network-interface": "aws ec2 delete-network-interface --network-interface-id {id}",
    "ec2:instance": "aws ec2 terminate-instances --instance-ids {id}",
    "elasticloadbalancing": "aws elbv2 delete-load-balancer --load-balancer-arn {arn}",
    "s3": "aws s3 rb s3://{id} --force   (deletes every object in it)",
    "logs": "aws logs delete-log-group --log-group-name {id}",
    "kms": "aws kms schedule-key-deletion --key-id {id} --pending-window-in-days 7",
}


def _remove_hint(arn: str) -> str:
    parts = arn.split(":", 5)
    service, resource = parts[2], parts[5] if len(parts) > 5 else ""
    kind, _, ident = resource.partition("/") if "/" in resource else ("", "", resource)
    if service == "logs":
        ident = resource.split(":", 1)[-1]
    hint = REMOVE_HINTS.get(f"{service}:{kind}") or REMOVE_HINTS.get(service)
    if hint is None:
        return f"remove it in the {service} console, or with the aws CLI for {service}"
    return hint.format(arn=arn, id=ident.rsplit("/", 1)[-1] if service != "logs" else ident)


def tagged_leftovers(client: Any, name: str, cluster_name: str) -> list[str]:
    """ARNs still tagged with the stack, or owned by its cluster (load balancers and their
    security groups made by Kubernetes controllers carry kubernetes.io/cluster/<name>)."""
    found: list[str] = []
    filters = [[{"Key": STACK_TAG, "Values": [name]}],
               [{"Key": f"kubernetes.io/cluster/{cluster_name}", "Values": ["owned"]}],
               [{"Key": "elbv2.k8s.aws/cluster", "Values": [cluster_name]}]]
    pages = client.get_paginator("get_resources")
    for tag_filters in filters:
        for page in pages.paginate(TagFilters=tag_filters):
            for item in page.get("ResourceTagMappingList", []):
                if item["ResourceARN"] not in found:
                    found.append(item["ResourceARN"])
    return found


def leak_report(client: Any, name: str, cluster_name: str, kept: list[str], *,
                keep_logs: bool = True) -> list[str]:
    """Lines for the user: kept buckets (by design) and anything else left, with its fix."""
    lines = []
    arns = tagged_leftovers(client, name, cluster_name)
    kept_arns = [a for a in arns if any(a == f"arn:aws:s3:::{b}" or a.endswith(f":::{b}") for b in kept)]
    for arn in kept_arns:
        lines.append(f"kept (your runs and mirrored weights; `kit down --purge` deletes it): {arn}")
    trail = [a for a in arns if a not in kept_arns and keep_logs and ":log-group:" in a]
    for arn in trail:
        lines.append(f"kept (the audit trail, for logs.retention_days; `kit down --purge` deletes it): {arn}")
    kept_arns += trail
    others = [a for a in arns if a not in kept_arns]
    for arn in others:
        lines.append(f"[yellow]still exists[/]: {arn}\n      remove: {_remove_hint(arn)}")
    if others:
        lines.append(f"the tagging index lags deletions by a few minutes; list again with: aws "
                     f"resourcegroupstaggingapi get-resources --tag-filters Key={STACK_TAG},Values={name}")
    elif not kept_arns:
        lines.append(f"nothing tagged {STACK_TAG}={name} is left")
    return lines
