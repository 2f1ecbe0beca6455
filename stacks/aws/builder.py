"""The image builder in the customer's account, for operators with no container engine:
a CodeBuild project (`kit images build --remote`) that builds the kit's images from a source
bundle the kit uploads to its artifacts bucket (builds/), and pushes them to the stack's ECR.

It runs inside the private VPC (no internet: base images are copies in the stack's ECR that
`kit images build --remote` makes first, Python packages from the bundle's wheelhouse), with
its own role (read the bundles, push the kit's two repositories, pull the bases, write its log
group), the stack's
key for its artifacts and logs, and a security group that reaches only the VPC's endpoints and
S3 (its prefix list). Docker needs privileged mode in CodeBuild; the build container is
CodeBuild's own, not a cluster node's.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from kit.layout.buckets import BUILDS_PREFIX
from stacks.aws.common import Ctx, assume_role, policy, role, statement
from stacks.aws.keys import USE, log_group
from stacks.aws.names import builder_project
from stacks.aws.network import Network, s3_ranges
from stacks.aws.storage import Buckets

BUILD_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"

# Runs with the bundle unpacked in the working folder (Dockerfile + wheels/). The kit passes
# IMAGE (repository:tag), BUILD_ARGS and LABELS (each "--flag value" lines, shell-quoted).
BUILDSPEC = {
    "version": 0.2,
    "env": {"shell": "bash", "exported-variables": ["IMAGE_DIGEST"]},
    "phases": {
        "pre_build": {"commands": [
            'aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS '
            '--password-stdin "${IMAGE%%/*}"']},
        "build": {"commands": [
            'eval "docker build --file Dockerfile --tag \\"$IMAGE\\" $BUILD_ARGS $LABELS ."',
            'docker push "$IMAGE"',
            "IMAGE_DIGEST=$(docker inspect --format '{{index .RepoDigests 0}}' \"$IMAGE\" | cut -d@ -f2)",
            'test -n "$IMAGE_DIGEST"']},
    },
}


def builder(ctx: Ctx, net: Network, buckets: Buckets, key_arn: pulumi.Input[str],
            registry_prefix: str) -> aws.codebuild.Project:
    name = builder_project(ctx.name)
    logs = log_group(ctx, "builder-logs", key_arn)
    repos = [ctx.arn("ecr", f"repository/{ctx.short}/{image}") for image in ("kit", "trainer")]
    bases = ctx.arn("ecr", f"repository/{ctx.short}/*")
    bundles = pulumi.Output.concat(buckets.artifacts.arn, "/", BUILDS_PREFIX, "*")
    subnets = [ctx.arn("ec2", "subnet/*")]
    build_role = role(ctx, "builder", assume_role(
        "codebuild.amazonaws.com", condition={"StringEquals": {"aws:SourceAccount": ctx.account}}),
        inline=policy(
            statement("Allow", ["s3:GetObject", "s3:GetObjectVersion"], [bundles], Sid="Bundles"),
            statement("Allow", ["ecr:GetAuthorizationToken"], "*", Sid="RegistryLogin"),
            statement("Allow", ["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload",
                                "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
                                "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], repos,
                      Sid="PushKitImages"),
            statement("Allow", ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                "ecr:BatchCheckLayerAvailability"], [bases], Sid="PullBases"),
            statement("Allow", ["logs:CreateLogStream", "logs:PutLogEvents"],
                      [logs.arn, pulumi.Output.concat(logs.arn, ":*")], Sid="Logs"),
            statement("Allow", USE, [key_arn], Sid="KitKey"),
            statement("Allow", ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
                                "ec2:DeleteNetworkInterface", "ec2:DescribeSubnets",
                                "ec2:DescribeSecurityGroups", "ec2:DescribeDhcpOptions",
                                "ec2:DescribeVpcs"], "*", Sid="VpcNetworking"),
            statement("Allow", ["ec2:CreateNetworkInterfacePermission"],
                      [ctx.arn("ec2", "network-interface/*")], Sid="VpcInterfaces",
                      Condition={"ArnLike": {"ec2:Subnet": subnets},
                                 "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"}}),
        ))
    s3 = s3_ranges(ctx)
    sg = aws.ec2.SecurityGroup(
        "builder-sg", vpc_id=net.vpc_id, description="lima-kit image builder: endpoints and S3 only",
        ingress=[],
        egress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": [net.cidr],
                 "description": "HTTPS to the VPC's private endpoints (ECR, logs, STS)"},
                {"protocol": "tcp", "from_port": 443, "to_port": 443, "prefix_list_ids": [s3.id],
                 "description": "HTTPS to S3 through the gateway endpoint"}],
        opts=ctx.opts())
    return aws.codebuild.Project(
        "builder", name=name, description=f"lima-kit {ctx.name}: builds the kit's images",
        service_role=build_role.arn, encryption_key=key_arn, build_timeout=120,
        queued_timeout=60, concurrent_build_limit=1,
        # Each build names its own bundle (sourceLocationOverride); the buildspec is this one.
        source={"type": "S3", "location": f"{buckets.names['artifacts']}/{BUILDS_PREFIX}bundle.zip",
                "buildspec": json.dumps(BUILDSPEC)},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "compute_type": "BUILD_GENERAL1_LARGE",
                     "image": BUILD_IMAGE, "privileged_mode": True,
                     "image_pull_credentials_type": "CODEBUILD",
                     "environment_variables": [{"name": "REGISTRY_PREFIX", "value": registry_prefix}]},
        vpc_config={"vpc_id": net.vpc_id, "subnets": net.subnet_ids, "security_group_ids": [sg.id]},
        logs_config={"cloudwatch_logs": {"status": "ENABLED", "group_name": logs.name},
                     "s3_logs": {"status": "DISABLED"}},
        opts=ctx.opts(depends_on=list(build_role.policies)))
