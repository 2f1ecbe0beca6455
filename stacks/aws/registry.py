"""Images from inside the network: one ECR repository per image the cluster or the image
builder pulls, each filled by the kit itself, never by a pull-through cache.

The kit's own images (`kit`, `trainer`) are pushed there by `kit up` / `kit images push`;
every upstream image (TGI, vLLM, the API-key proxy, the NVIDIA device plugin, the cluster
autoscaler, the builder's base images) is copied there at the digest the images lock pins
(kit.images.copy): the stack's own (device plugin, autoscaler) by the stack before any object
references them (stacks/cluster_layer/image_copy.py), the charts' by `kit up`'s mirror phase before the
charts are applied, the builder's bases by `kit images build --remote` (EKS user guide,
"Private cluster requirements": a cluster without outbound access "must pull images from a
container registry that's in your VPC ... copy container images to it"). Why no pull-through
cache: a first pull by digest does not fill it (github.com/aws/containers-roadmap/issues/2837,
read 2026-12-07), and its ghcr.io and Docker Hub rules need credentials in Secrets Manager.
EKS add-ons (vpc-cni, kube-proxy, coredns, the Pod Identity agent) come from AWS's own
registry (stacks/aws/addon_images.py) through the ECR endpoints.

Paths: <account>.dkr.ecr.<region>.amazonaws.com/<short>/<path>, <path> as kit.images'
through_mirror lays an image out (<segment>/<repository> for an upstream, <image> for the
kit's own and the copied device plugin). registry_prefix in ClusterOutputs is everything up to
and including <short>.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from stacks.aws import names
from stacks.aws.common import Ctx

OWN_IMAGES = ("trainer", "kit")


def registry_prefix(ctx: Ctx) -> str:
    return names.registry_prefix(ctx.name, ctx.account, ctx.region)


def mirror_paths(prefix: str) -> dict[str, str]:
    """Image (kit.images name, or the builder base's reference) -> its repository path under
    the prefix, exactly where kit.images.through_mirror points the cluster."""
    from kit.images import IMAGES, KIT_IMAGES, through_mirror
    from kit.images.build import RECIPES

    refs = {name: f"{img.repository}:{img.tag}" for name, img in IMAGES.items()
            if name not in KIT_IMAGES}
    for recipe in RECIPES.values():     # the remote builder's bases
        for base, _extras in recipe.flavours.values():
            if base not in IMAGES:         # a reference rather than a name of the table
                refs.setdefault(base, base)
    paths = {name: through_mirror(ref, prefix).removeprefix(prefix.rstrip("/") + "/").rsplit(":", 1)[0]
             for name, ref in refs.items()}
    return {**{image: image for image in OWN_IMAGES}, **paths}


def registry(ctx: Ctx, key_arn: pulumi.Input[str]) -> dict[str, aws.ecr.Repository]:
    """Image -> its repository: immutable tags, scanned on push, under the stack's key."""
    kms = [{"encryption_type": "KMS", "kms_key": key_arn}]
    repos = {}
    for image, path in mirror_paths(registry_prefix(ctx)).items():
        repos[image] = aws.ecr.Repository(
            f"repo-{path.replace('/', '-')}", name=f"{ctx.short}/{path}",
            image_tag_mutability="IMMUTABLE", image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=kms, force_delete=ctx.purge, opts=ctx.opts())
    return repos
