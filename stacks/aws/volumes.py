"""Block storage the server's model is staged on: the EBS CSI driver and the snapshot
controller (EKS add-ons), a gp3 StorageClass encrypted with the kit's key, and a
VolumeSnapshotClass.

Why: a stage Job copies each run's model onto a volume once and snapshots it; every server
replica restores its own volume from that snapshot (charts/stage, charts/tgi modelVolume). The
server's pod, where prompts are seen, then needs neither bucket access nor storage egress.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from stacks.aws.cluster import Cluster
from stacks.aws.common import Ctx, policy, role, statement
from stacks.aws.identity import pod_trust
from stacks.aws.names import MODEL_CLASS

DRIVER = "ebs.csi.aws.com"
CSI_ACCOUNT = "ebs-csi-controller-sa"  # the add-on's controller ServiceAccount (kube-system)
CSI_POLICY = "service-role/AmazonEBSCSIDriverPolicy"


def model_volumes(ctx: Ctx, c: Cluster, key_arn: pulumi.Input[str], node_groups: list,
                  provider: pulumi.ProviderResource) -> list:
    """The driver, the snapshot controller, and the two classes on top of them."""
    from stacks.cluster_layer import apply_groups

    addons = csi_driver(ctx, c, key_arn, node_groups)
    return apply_groups({"volumes": classes(key_arn)}, provider, depends_on=addons)


def csi_driver(ctx: Ctx, c: Cluster, key_arn: pulumi.Input[str], node_groups: list) -> list:
    """The EBS CSI driver with its own identity (volumes and snapshots; the kit's key only
    through EC2, for volumes), and the snapshot controller. Returns the add-ons."""
    r = role(ctx, "ebs-csi", pod_trust(ctx), managed=(CSI_POLICY,), inline=policy(
        statement("Allow", ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], [key_arn],
                  Sid="KitKeyGrants", Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}}),
        statement("Allow", ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*",
                            "kms:GenerateDataKey*", "kms:DescribeKey"], [key_arn],
                  Sid="KitKeyViaEc2",
                  Condition={"StringEquals": {"kms:ViaService": f"ec2.{ctx.region}.amazonaws.com"}})))
    after = [*c.addons, *node_groups]
    csi = aws.eks.Addon("addon-aws-ebs-csi-driver", cluster_name=c.eks.name,
                        addon_name="aws-ebs-csi-driver",
                        pod_identity_associations=[{"role_arn": r.arn,
                                                    "service_account": CSI_ACCOUNT}],
                        # The node plugin must run on the tainted GPU nodes too: the server's
                        # restored volumes attach there.
                        configuration_values=json.dumps({"node": {"tolerateAllTaints": True}}),
                        resolve_conflicts_on_create="OVERWRITE",
                        resolve_conflicts_on_update="OVERWRITE",
                        opts=ctx.opts(parent=c.eks, depends_on=[*after, *r.policies]))
    snapshots = aws.eks.Addon("addon-snapshot-controller", cluster_name=c.eks.name,
                              addon_name="snapshot-controller",
                              resolve_conflicts_on_create="OVERWRITE",
                              resolve_conflicts_on_update="OVERWRITE",
                              opts=ctx.opts(parent=c.eks, depends_on=after))
    return [csi, snapshots]


def classes(key_arn: pulumi.Input[str]) -> list[dict]:
    """The StorageClass (gp3, encrypted with the kit's key, bound where the pod lands) and the
    VolumeSnapshotClass (snapshots go with their VolumeSnapshot)."""
    labels = {"app.kubernetes.io/part-of": "lima-kit"}
    return [
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"name": MODEL_CLASS, "labels": labels},
         "provisioner": DRIVER,
         "parameters": {"type": "gp3", "encrypted": "true", "kmsKeyId": key_arn},
         "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer",
         "allowVolumeExpansion": False},
        {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
         "metadata": {"name": MODEL_CLASS, "labels": labels},
         "driver": DRIVER, "deletionPolicy": "Delete"},
    ]
