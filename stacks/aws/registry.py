"""Images from inside the network: ECR repositories for the kit's own images and
pull-through cache rules for the upstream ones (TGI on ghcr.io, vLLM on Docker Hub, the
cluster autoscaler on registry.k8s.io). Nodes pull from ECR through the VPC endpoints; ECR
fetches from upstream on AWS's side, so the nodes need no egress.

Image paths: <account>.dkr.ecr.<region>.amazonaws.com/<short>/<upstream>/<repository>, with
<upstream> one of UPSTREAMS' keys; the kit's images at <short>/<image>. registry_prefix in
ClusterOutputs is everything up to and including <short>.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from stacks.aws import names
from stacks.aws.common import Ctx

KIT_IMAGES = ("trainer", "kit", "nvidia-device-plugin")
# path segment -> (upstream registry URL, needs credentials in Secrets Manager)
UPSTREAMS = {
    "ghcr": ("ghcr.io", True),                # text-generation-inference
    "docker-hub": ("registry-1.docker.io", True),  # vllm/vllm-openai
    "k8s": ("registry.k8s.io", False),        # autoscaling/cluster-autoscaler
    "ecr-public": ("public.ecr.aws", False),
}

def registry_prefix(ctx: Ctx) -> str:
    return names.registry_prefix(ctx.name, ctx.account, ctx.region)


def registry(ctx: Ctx, key_arn: pulumi.Input[str]) -> dict[str, aws.ecr.Repository]:
    kms = [{"encryption_type": "KMS", "kms_key": key_arn}]
    repos = {}
    for image in KIT_IMAGES:
        repos[image] = aws.ecr.Repository(
            f"repo-{image}", name=f"{ctx.short}/{image}", image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=kms, force_delete=ctx.purge, opts=ctx.opts())
    # Repositories ECR creates on first pull through a cache rule get the same settings.
    aws.ecr.RepositoryCreationTemplate(
        "cache-template", prefix=ctx.short, applied_fors=["PULL_THROUGH_CACHE"],
        description=f"lima-kit {ctx.name}: pull-through cache repositories",
        image_tag_mutability="IMMUTABLE", encryption_configurations=kms,
        resource_tags=dict(ctx.tags), opts=ctx.opts())
    for segment, (url, auth) in UPSTREAMS.items():
        args = {}
        if auth:
            args["credential_arn"] = _credential(ctx, segment)
        aws.ecr.PullThroughCacheRule(f"cache-{segment}", ecr_repository_prefix=f"{ctx.short}/{segment}",
                                     upstream_registry_url=url, **args, opts=ctx.opts())
    return repos


def _credential(ctx: Ctx, segment: str) -> pulumi.Input[str]:
    """The upstream login lives in Secrets Manager; the kit creates the secret empty (its
    value is put there out of band, never in Pulumi state) unless one is named in config."""
    given = {"ghcr": ctx.aws.ghcr_credential_arn,
             "docker-hub": ctx.aws.docker_hub_credential_arn}[segment]
    if given:
        return given
    secret = aws.secretsmanager.Secret(
        f"cache-credential-{segment}", name=f"ecr-pullthroughcache/{ctx.short}-{segment}",
        description=f"{segment} login for the ECR pull-through cache: "
                    '{"username": "...", "accessToken": "..."}',
        recovery_window_in_days=7, opts=ctx.opts())
    return secret.arn
