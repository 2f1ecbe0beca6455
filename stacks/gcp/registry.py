"""Images from inside the network: one standard Artifact Registry docker repository, <short>,
holding every image the cluster pulls that GKE does not serve itself, each put there by the
lima-kit at the digest the images lock pins, never fetched by a pull-through cache.

The kit's own images (`kit`, `trainer`) are pushed there by `kit up` / `kit images push`;
every upstream image the charts run (TGI or vLLM, the API-key proxy) is copied there by
`kit up`'s mirror phase before any chart is applied (kit.images.copy: skopeo, every platform,
the digest kept; CloudSupport.copies_upstreams). The stack's own program runs no upstream
image on GKE (stack_images is empty: GKE installs the NVIDIA driver and device plugin on GPU
nodes, and its cluster autoscaler runs in the control plane), so no copy runs inside the
Pulumi program. Why no remote repository: a boot path would then depend on Artifact Registry
fetching from Docker Hub or ghcr.io on the first pull, which anonymous Docker Hub rate limits
can refuse (https://docs.cloud.google.com/artifact-registry/docs/docker/configure-remote-auth-docker-hub,
read 2026-12-07), and inside a VPC Service Controls perimeter a remote repository reaches its
upstream only with the project's Artifact Registry VPC-SC policy relaxed to ALLOW
(https://cloud.google.com/sdk/gcloud/reference/artifacts/vpcsc-config, read 2026-12-07): with
no remote repository, the stack sets that policy to DENY inside a perimeter (perimeter.py).
GKE's own images (gke.gcr.io, the node image's preloaded ones) come from Google through the
restricted VIP (docs/cluster.md lists them).

Image paths: <region>-docker.pkg.dev/<project>/<short>/<image> for the kit's images and the
copied device plugin name, <region>-docker.pkg.dev/<project>/<short>/<segment>/<repository>
for an upstream's (kit.images.through_mirror; a docker repository nests image paths). One
repository, encrypted with the kit's key, immutable tags; the nodes' account may read it and
nothing else of the registry.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from stacks.gcp.common import Ctx, member
from stacks.gcp.names import short_name


def registry(ctx: Ctx, key_id: pulumi.Input[str], node_email: pulumi.Input[str],
             after: list[pulumi.Resource]) -> gcp.artifactregistry.Repository:
    """`after`: the key's grant to Artifact Registry's service agent (CMEK needs it first)."""
    short = short_name(ctx.name)
    repo = gcp.artifactregistry.Repository(
        "repo-kit", repository_id=short, location=ctx.region, format="DOCKER",
        mode="STANDARD_REPOSITORY", kms_key_name=key_id, docker_config={"immutable_tags": True},
        description=f"lima-kit {ctx.name}: the kit's images and the upstream images it copies "
                    "at their locked digests",
        opts=ctx.opts(depends_on=after))
    gcp.artifactregistry.RepositoryIamMember(
        "nodes-read-kit", repository=repo.name, location=ctx.region,
        role="roles/artifactregistry.reader", member=member(node_email),
        opts=ctx.opts(parent=repo))
    return repo
