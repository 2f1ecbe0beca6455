"""Cluster autoscaler for the GPU pool (scale from zero and back).

Why cluster-autoscaler rather than Karpenter: the node shapes stay in Pulumi as managed node
groups with the kit's launch template, so the plan a reviewer approves (IMDSv2, encrypted
disks, taint, instance types) is exactly what boots, and the autoscaler only changes a
node group's desired size. Karpenter would move node shape into in-cluster CRDs, need
ec2:RunInstances/iam:PassRole on the controller and an interruption queue. Scale-from-zero
works because the autoscaler reads a managed node group's labels and taints from
eks:DescribeNodegroup.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from stacks.aws.cluster import Cluster
from stacks.aws.common import Ctx, policy, role, statement
from stacks.aws.gpu_pool import SYSTEM_LABEL, Pools
from stacks.aws.identity import pod_trust
from stacks.aws.registry import registry_prefix
from stacks.settings import StackSettings

NAME = "cluster-autoscaler"
IMAGE = "autoscaler"    # its name in kit.images.IMAGES and the images lock
NAMESPACE = "kube-system"

_CLUSTER_RULES = [
    ([""], ["events", "endpoints"], ["create", "patch"]),
    ([""], ["pods/eviction"], ["create"]),
    ([""], ["pods/status"], ["update"]),
    ([""], ["endpoints"], ["get", "update"]),
    ([""], ["nodes"], ["watch", "list", "get", "update"]),
    ([""], ["namespaces", "pods", "services", "replicationcontrollers", "persistentvolumeclaims",
            "persistentvolumes"], ["watch", "list", "get"]),
    (["extensions"], ["replicasets", "daemonsets"], ["watch", "list", "get"]),
    (["policy"], ["poddisruptionbudgets"], ["watch", "list"]),
    (["apps"], ["statefulsets", "replicasets", "daemonsets"], ["watch", "list", "get"]),
    (["storage.k8s.io"], ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities",
                          "volumeattachments"], ["watch", "list", "get"]),
    (["batch", "extensions"], ["jobs"], ["get", "list", "watch", "patch"]),
    (["coordination.k8s.io"], ["leases"], ["create"]),
    (["coordination.k8s.io"], ["leases"], ["get", "update"]),
    (["resource.k8s.io"], ["resourceclaims", "resourceslices", "deviceclasses"], ["get", "list", "watch"]),
]


def autoscaler_role(ctx: Ctx, c: Cluster) -> aws.iam.Role:
    tag = f"aws:ResourceTag/k8s.io/cluster-autoscaler/{ctx.name}"
    groups = ctx.arn("eks", f"nodegroup/{ctx.name}/*/*")
    r = role(ctx, "autoscaler", pod_trust(ctx), inline=policy(
        statement("Allow", ["autoscaling:DescribeAutoScalingGroups",
                            "autoscaling:DescribeAutoScalingInstances",
                            "autoscaling:DescribeLaunchConfigurations",
                            "autoscaling:DescribeScalingActivities", "autoscaling:DescribeTags",
                            "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
                            "ec2:DescribeLaunchTemplateVersions",
                            "ec2:GetInstanceTypesFromInstanceRequirements"], "*",
                  Sid="DescribeOnly"),
        statement("Allow", ["autoscaling:SetDesiredCapacity",
                            "autoscaling:TerminateInstanceInAutoScalingGroup"], "*",
                  Sid="ScaleOwnGroups", Condition={"StringEquals": {tag: "owned"}}),
        statement("Allow", ["eks:DescribeNodegroup"], [groups], Sid="ReadNodeGroups")))
    aws.eks.PodIdentityAssociation("autoscaler-identity", cluster_name=c.eks.name,
                                   namespace=NAMESPACE, service_account=NAME, role_arn=r.arn,
                                   opts=ctx.opts(parent=r, depends_on=c.addons))
    return r


def objects(ctx: Ctx, image: str, annotations: dict[str, str]) -> list[dict]:
    """ServiceAccount, RBAC and Deployment; the image (pinned) from its copy in the stack's
    ECR (stacks/cluster_layer/image_copy.py)."""
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "lima-kit"}
    meta: dict[str, Any] = {"name": NAME, "namespace": NAMESPACE, "labels": labels}
    rules = [{"apiGroups": g, "resources": r, "verbs": v} for g, r, v in _CLUSTER_RULES]
    role_rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "list", "watch"]},
                  {"apiGroups": [""], "resources": ["configmaps"],
                   "resourceNames": ["cluster-autoscaler-status"],
                   "verbs": ["delete", "get", "update", "watch"]}]
    subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]
    rbac = "rbac.authorization.k8s.io"
    container = {
        "name": NAME,
        "image": image,
        "command": ["./cluster-autoscaler", "--cloud-provider=aws", "--v=2",
                    "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
                    f"k8s.io/cluster-autoscaler/{ctx.name}",
                    "--balance-similar-node-groups", "--skip-nodes-with-system-pods=false",
                    "--skip-nodes-with-local-storage=false", "--expander=least-waste",
                    "--scale-down-unneeded-time=10m"],
        "env": [{"name": "AWS_REGION", "value": ctx.region},
                {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"}],
        "resources": {"requests": {"cpu": "100m", "memory": "300Mi"},
                      "limits": {"memory": "600Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
    }
    pod = {"serviceAccountName": NAME, "priorityClassName": "system-cluster-critical",
           "nodeSelector": dict(SYSTEM_LABEL),
           "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "fsGroup": 65534,
                               "seccompProfile": {"type": "RuntimeDefault"}},
           "containers": [container]}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": f"{rbac}/v1", "kind": "ClusterRole", "metadata": {"name": NAME, "labels": labels},
         "rules": rules},
        {"apiVersion": f"{rbac}/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": NAME, "labels": labels},
         "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": NAME}, "subjects": subject},
        {"apiVersion": f"{rbac}/v1", "kind": "Role", "metadata": meta, "rules": role_rules},
        {"apiVersion": f"{rbac}/v1", "kind": "RoleBinding", "metadata": meta,
         "roleRef": {"apiGroup": rbac, "kind": "Role", "name": NAME}, "subjects": subject},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {**meta, **({"annotations": annotations} if annotations else {})},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                  "template": {"metadata": {"labels": labels}, "spec": pod}}},
    ]


def autoscaler(ctx: Ctx, c: Cluster, pools: Pools, provider: pulumi.ProviderResource,
               settings: StackSettings) -> list:
    from stacks.cluster_layer import apply_groups
    from stacks.cluster_layer.pinned import pinned

    image, annotations = pinned(settings.kit, IMAGE, settings.images, registry_prefix(ctx),
                                review=settings.review)
    r = autoscaler_role(ctx, c)
    return apply_groups({"autoscaler": objects(ctx, image, annotations)}, provider,
                        depends_on=[r, pools.gpu])
