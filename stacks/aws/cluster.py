"""EKS control plane: private API endpoint, secrets encrypted with the stack's key, audit
logs, access entries (no aws-auth ConfigMap), and the managed add-ons.

EKS turns the public endpoint on unless told otherwise, so it is set explicitly: off, or on
and limited to network.operator_cidrs. The VPC CNI enforces NetworkPolicy only when asked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stacks.aws.common import Ctx, assume_role, policy, role, statement
from stacks.aws.keys import USE, log_group
from stacks.aws.network import Network

CONTROL_PLANE_LOGS = ["api", "audit", "authenticator"]
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

# Add-ons the nodes need to become Ready go in before the node groups; coredns needs nodes.
ADDONS_BEFORE_NODES = {
    "vpc-cni": {"enableNetworkPolicy": "true"},  # the add-on's switch for ENABLE_NETWORK_POLICY
    "kube-proxy": None,
    "eks-pod-identity-agent": None,
}
ADDONS_AFTER_NODES = {"coredns": None}


@dataclass
class Cluster:
    eks: aws.eks.Cluster
    name: str
    kubeconfig: pulumi.Output[str]
    addons: list[aws.eks.Addon]


def cluster(ctx: Ctx, net: Network, operator_cidrs: list[str], key_arn: pulumi.Input[str]) -> Cluster:
    name = ctx.name
    control = role(ctx, "cluster", assume_role("eks.amazonaws.com", ("sts:AssumeRole", "sts:TagSession")),
                   managed=("AmazonEKSClusterPolicy",),
                   inline=policy(statement("Allow", USE + ["kms:CreateGrant", "kms:ListGrants"],
                                           [key_arn])))
    # EKS would create this group itself, unencrypted and forever; the stack owns it instead.
    logs = log_group(ctx, "cluster-logs", key_arn)
    public = bool(operator_cidrs)
    eks = aws.eks.Cluster(
        "cluster", name=name, role_arn=control.arn, version=ctx.aws.kubernetes_version,
        vpc_config={"subnet_ids": net.subnet_ids, "endpoint_private_access": True,
                    "endpoint_public_access": public,
                    **({"public_access_cidrs": list(operator_cidrs)} if public else {})},
        encryption_config={"provider": {"key_arn": key_arn}, "resources": ["secrets"]},
        enabled_cluster_log_types=CONTROL_PLANE_LOGS,
        access_config={"authentication_mode": "API",
                       "bootstrap_cluster_creator_admin_permissions": False},
        bootstrap_self_managed_addons=False,
        kubernetes_network_config={"ip_family": "ipv4"},
        opts=ctx.opts(depends_on=[logs, control, *control.policies]))
    _operator_access(ctx, eks)
    addons = [_addon(ctx, eks, n, v) for n, v in ADDONS_BEFORE_NODES.items()]
    kubeconfig = pulumi.Output.secret(pulumi.Output.all(
        eks.endpoint, eks.certificate_authority.apply(lambda c: c["data"] if isinstance(c, dict) else c.data),
    ).apply(lambda v: _kubeconfig(name, ctx.region, v[0], v[1])))
    return Cluster(eks=eks, name=name, kubeconfig=kubeconfig, addons=addons)


def _addon(ctx: Ctx, eks: aws.eks.Cluster, name: str, config: dict | None,
           depends_on: list | None = None) -> aws.eks.Addon:
    args = {"configuration_values": json.dumps(config)} if config else {}
    return aws.eks.Addon(f"addon-{name}", cluster_name=eks.name, addon_name=name,
                         resolve_conflicts_on_create="OVERWRITE",
                         resolve_conflicts_on_update="OVERWRITE", **args,
                         opts=ctx.opts(parent=eks, depends_on=depends_on or []))


def addons_after_nodes(ctx: Ctx, c: Cluster, node_groups: list) -> None:
    for name, config in ADDONS_AFTER_NODES.items():
        c.addons.append(_addon(ctx, c.eks, name, config, depends_on=node_groups))


def _operator_access(ctx: Ctx, eks: aws.eks.Cluster) -> None:
    """Cluster admin for one named role only: the operator's (by default whoever runs kit up)."""
    principal = ctx.aws.operator_role_arn
    if not principal:
        caller = aws.get_caller_identity(opts=ctx.invoke())
        # An assumed-role session ARN is not a valid principal; use the role it came from.
        principal = aws.iam.get_session_context(arn=caller.arn, opts=ctx.invoke()).issuer_arn
    entry = aws.eks.AccessEntry("operator", cluster_name=eks.name, principal_arn=principal,
                                type="STANDARD", opts=ctx.opts(parent=eks))
    aws.eks.AccessPolicyAssociation("operator-admin", cluster_name=eks.name, principal_arn=principal,
                                    policy_arn=ADMIN_POLICY, access_scope={"type": "cluster"},
                                    opts=ctx.opts(parent=entry))


def _kubeconfig(name: str, region: str, endpoint: str, ca: str) -> str:
    """A kubeconfig whose user runs `kit cluster-token aws NAME REGION` (stacks/aws/token.py)
    for short-lived tokens: no static keys, and no AWS CLI to install."""
    from stacks.contract import exec_user

    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": endpoint,
                                                "certificate-authority-data": ca}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "users": [{"name": name, "user": exec_user("aws", name, region)}],
    })
