"""AWS: a private VPC, EKS, a GPU pool, buckets, identity and an image mirror.

This module is what the rest of the kit knows of AWS: one CloudSupport object, plain data plus
functions imported on first use, so importing it never imports boto3 or pulumi_aws. The
Pulumi program part is stacks/aws/stack.py (`build`).
"""

from __future__ import annotations

from stacks.aws.catalog import CATALOG
from stacks.clouds import CloudSupport, Egress, lazy

SUPPORT = CloudSupport(
    target="aws",
    extra="aws",
    modules=("kubernetes", "pulumi", "pulumi_kubernetes", "pulumi_aws", "boto3", "helm_python"),
    build="stacks.aws.stack:build",
    options="stacks.aws.options:AwsOptions",
    default_outputs=lazy("stacks.aws.defaults:default_outputs"),
    default_region="us-east-1",
    bucket_scheme="s3",
    # Both the AWS Load Balancer Controller and the in-tree controller: internal.
    internal_lb={
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
        "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    },
    internal_lb_domain="elb.{region}.amazonaws.com",
    identity_annotation="eks.amazonaws.com/role-arn",
    egress=(Egress("169.254.170.23/32", 80, "EKS Pod Identity agent on the node"),),
    https_anywhere="S3 is reached through a gateway endpoint: S3's own public address "
                   "ranges, routed privately; without NAT nothing else is reachable",
    stack_images=("device-plugin", "autoscaler"),
    # ECR's pull-through cache cannot serve the first boot: a first pull by digest does not
    # fill it (github.com/aws/containers-roadmap/issues/2837, read 2026-12-07), and ghcr.io /
    # Docker Hub rules need credentials in Secrets Manager. Every upstream image is copied.
    copies_upstreams=True,
    gpu_catalog=CATALOG,
    state_scheme="s3",
    secrets_provider="awskms://alias/lima-kit-state?region={region}",
    state_check=lazy("stacks.aws.preflight:state_bucket"),
    preflight=lazy("stacks.aws.preflight:checks"),
    operator_reach=lazy("stacks.aws.operator:reach"),
    adopt=lazy("stacks.aws.kept:adoptions"),
    purge_kept=lazy("stacks.aws.kept:purge"),
    leak_report=lazy("stacks.aws.leaks:report"),
    registry_login=lazy("stacks.aws.registry_login:credentials"),
    cluster_token=lazy("stacks.aws.token:token"),
    remote_build=lazy("stacks.aws.remote_build:run"),
    prices="stacks.aws:prices.json",
    price_update=lazy("stacks.aws.prices:fetch"),
    plan_mocks="stacks.aws.mocks:AwsMocks",
    init_section=(
        "aws:\n"
        '  # account_id: "123456789012"  # names the kit\'s buckets before `kit up`; other accounts refused\n'
        "  # vpc_id: vpc-0123456789abcdef0  # an existing VPC, with subnet_ids; default: a new private one\n"
        "  # subnet_ids: [subnet-..., subnet-...]\n"
        "  # capacity_reservation: cr-0123456789abcdef0  # GPU capacity: an ODCR (or a Capacity\n"
        "  # capacity_reservation_zone: us-east-1a       #   Block, with capacity_block: true)\n"),
    plan_concerns=(
        ("aws:ec2/launchTemplate:", "nodes"),
        ("aws:eks/nodeGroup:", "nodes"),
        ("aws:ec2/", "network"),
        ("aws:route53/", "network"),
        ("name:flow-logs", "network"),
        ("aws:eks/podIdentityAssociation:", "identity"),
        ("aws:eks/", "cluster"),
        ("aws:cloudwatch/", "cluster"),
        ("aws:s3/", "storage"),
        ("aws:iam/", "identity"),
        ("aws:kms/", "identity"),
        ("aws:ecr/", "registry"),
        ("pulumi-python:dynamic/kit:ImageCopy", "registry"),
    ),
)
