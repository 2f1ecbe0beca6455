"""Workload identity with EKS Pod Identity: no static keys, no OIDC provider, no annotations.

The trainer reads the data prefix and the model mirror and writes the artifacts bucket; the
server reads the model mirror and the runs in the artifacts bucket; the node role has no
storage access at all. Every statement names its resources: no "*" on "*".
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from kit.errors import KitError
from kit.layout.buckets import RUNS_PREFIX
from kit.layout.kube_names import service_accounts
from stacks.aws.cluster import Cluster
from stacks.aws.common import Ctx, assume_role, policy, role, statement
from stacks.aws.storage import Buckets, parse_s3_uri

# No AmazonSSMManagedInstanceCore: the VPC has no Systems Manager endpoints (network.py).
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy",
                 "AmazonEC2ContainerRegistryPullOnly")


@dataclass
class Identities:
    trainer: aws.iam.Role
    server: aws.iam.Role


def pod_trust(ctx: Ctx) -> str:
    """EKS Pod Identity of this stack's cluster only (not any cluster of the account)."""
    return assume_role("pods.eks.amazonaws.com", ("sts:AssumeRole", "sts:TagSession"),
                       condition={"StringEquals": {"aws:SourceAccount": ctx.account},
                                  "ArnEquals": {"aws:SourceArn": ctx.arn("eks", f"cluster/{ctx.name}")}})


def via_s3(ctx: Ctx) -> dict:
    """A key used only by S3 on the workload's behalf (SSE-KMS), never called directly."""
    return {"StringEquals": {"kms:ViaService": f"s3.{ctx.region}.amazonaws.com"}}


def node_role(ctx: Ctx) -> aws.iam.Role:
    """Nodes pull images (every one already in ECR: no pull-through cache to fill); nothing else."""
    return role(ctx, "node", assume_role("ec2.amazonaws.com"), managed=NODE_POLICIES)


def _read(bucket_arn: pulumi.Input[str], prefix: str, sid: str) -> list[dict]:
    objects = pulumi.Output.concat(bucket_arn, "/", prefix, "*")
    stmts = [statement("Allow", ["s3:GetObject"], [objects], Sid=f"{sid}Objects"),
             statement("Allow", ["s3:ListBucket"], [bucket_arn], Sid=f"{sid}List")]
    if prefix:
        stmts[1]["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}}
    return stmts


def workloads(ctx: Ctx, c: Cluster, namespace: str, buckets: Buckets, data_uri: str,
              key_arn: pulumi.Input[str], eval_uri: str | None = None) -> Identities:
    data_bucket, data_prefix = parse_s3_uri(data_uri)
    data_arn = f"arn:{ctx.partition}:s3:::{data_bucket}"
    held_out = []
    if eval_uri:  # a fixed held-out set: read like the data, from the same bucket
        eval_bucket, eval_prefix = parse_s3_uri(eval_uri)
        if eval_bucket != data_bucket:
            raise KitError(f"eval.uri: {eval_uri} must be in the data bucket ({data_bucket}) on "
                           "aws: the private network and the trainer read that bucket only",
                           hint=f"put the held-out set under s3://{data_bucket}/")
        held_out = _read(data_arn, eval_prefix, "Eval")
    runs = pulumi.Output.concat(buckets.artifacts.arn, "/", RUNS_PREFIX, "*")
    # Reading and writing SSE-KMS objects through S3 needs exactly these; no Encrypt or
    # ReEncrypt: the trainer cannot use the key on data of its own choosing.
    kms = [statement("Allow", ["kms:Decrypt", "kms:GenerateDataKey"], [key_arn], Sid="KitKey",
                     Condition=via_s3(ctx))]
    if ctx.aws.data_kms_key_arn:
        kms.append(statement("Allow", ["kms:Decrypt"], [ctx.aws.data_kms_key_arn], Sid="DataKey",
                             Condition=via_s3(ctx)))
    trainer = role(ctx, "trainer", pod_trust(ctx), inline=policy(
        *_read(data_arn, data_prefix, "Data"),
        *held_out,
        *_read(buckets.models.arn, "", "Models"),
        *_read(buckets.artifacts.arn, RUNS_PREFIX, "Runs"),
        # Creates, never deletes nor replaces: a run cannot remove or rewrite any run's
        # objects. S3 replaces on a plain PutObject, so every object-creating write
        # (PutObject, CompleteMultipartUpload) must carry If-None-Match: *, which the kit's
        # create-only publish sends (kit.data.published); starting a multipart upload and its
        # parts cannot carry it and create no object
        # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html,
        # read 2026-12-07).
        statement("Allow", ["s3:PutObject", "s3:AbortMultipartUpload",
                            "s3:ListMultipartUploadParts"], [runs], Sid="WriteRuns"),
        statement("Deny", ["s3:PutObject"], [runs], Sid="CreateRunsOnly",
                  Condition={"Null": {"s3:if-none-match": "true"},
                             "Bool": {"s3:ObjectCreationOperation": "true"}}),
        *kms))
    server = role(ctx, "server", pod_trust(ctx), inline=policy(
        *_read(buckets.models.arn, "", "Models"),
        *_read(buckets.artifacts.arn, RUNS_PREFIX, "Runs"),
        statement("Allow", ["kms:Decrypt"], [key_arn], Sid="KitKey", Condition=via_s3(ctx))))
    accounts = service_accounts(ctx.name)
    for logical, r in (("trainer", trainer), ("server", server)):
        sa = accounts[logical]
        aws.eks.PodIdentityAssociation(f"{logical}-identity", cluster_name=c.eks.name,
                                       namespace=namespace, service_account=sa, role_arn=r.arn,
                                       opts=ctx.opts(parent=r, depends_on=c.addons))
    return Identities(trainer=trainer, server=server)
