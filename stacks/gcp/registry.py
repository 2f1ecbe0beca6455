"""Images from inside the network: an Artifact Registry repository for the kit's own images
and remote repositories as the pull-through mirror of the upstream registries the charts use
(TGI on ghcr.io, vLLM on Docker Hub, ...). Nodes pull from Artifact Registry through the
restricted VIP; Artifact Registry fetches from upstream on Google's side, so the nodes need no
egress.

Image paths: <region>-docker.pkg.dev/<project>/<short>/<image> for the kit's images and
<region>-docker.pkg.dev/<project>/<short>-<segment>/<repository> for an upstream's (remote
repositories cannot nest, hence CloudSupport.mirror_join "-"). All encrypted with the kit's key;
the nodes' account may read these repositories and nothing else of the registry.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from stacks.gcp.common import Ctx, member
from stacks.gcp.names import short_name

# path segment (kit.images.UPSTREAM_SEGMENTS) -> the remote repository's upstream: Docker Hub
# by its own switch, any other registry by URI (common_repository).
UPSTREAMS = {
    "ghcr": {"common_repository": {"uri": "https://ghcr.io"}},
    "docker-hub": {"docker_repository": {"public_repository": "DOCKER_HUB"}},
    "k8s": {"common_repository": {"uri": "https://registry.k8s.io"}},
    "ecr-public": {"common_repository": {"uri": "https://public.ecr.aws"}},
}


def registry(ctx: Ctx, key_id: pulumi.Input[str], node_email: pulumi.Input[str],
             agent: pulumi.Input[str], after: list[pulumi.Resource]) -> dict[str, gcp.artifactregistry.Repository]:
    """`agent`: Artifact Registry's service agent; `after`: the key's grant to it."""
    short = short_name(ctx.name)
    repos = {"kit": gcp.artifactregistry.Repository(
        "repo-kit", repository_id=short, location=ctx.region, format="DOCKER",
        mode="STANDARD_REPOSITORY", kms_key_name=key_id, docker_config={"immutable_tags": True},
        description=f"lima-kit {ctx.name}: the kit's own images", opts=ctx.opts(depends_on=after))}
    for segment, upstream in UPSTREAMS.items():
        remote: dict = {"description": f"pull-through mirror of {segment}", **upstream}
        needs = []
        if segment == "docker-hub" and ctx.gcp.docker_hub_secret_version:
            remote["upstream_credentials"] = {"username_password_credentials": {
                "username": ctx.gcp.docker_hub_username,
                "password_secret_version": ctx.gcp.docker_hub_secret_version}}
            # The registry reads the token as its own service agent: on that secret only.
            needs.append(gcp.secretmanager.SecretIamMember(
                "docker-hub-secret-access", role="roles/secretmanager.secretAccessor", member=agent,
                secret_id=ctx.gcp.docker_hub_secret_version.split("/versions/")[0],
                opts=ctx.opts()))
        repos[segment] = gcp.artifactregistry.Repository(
            f"repo-{segment}", repository_id=f"{short}-{segment}", location=ctx.region,
            format="DOCKER", mode="REMOTE_REPOSITORY", kms_key_name=key_id,
            remote_repository_config=remote,
            description=f"lima-kit {ctx.name}: {segment} through Artifact Registry",
            opts=ctx.opts(depends_on=[*after, *needs]))
    for logical, repo in repos.items():
        gcp.artifactregistry.RepositoryIamMember(
            f"nodes-read-{logical}", repository=repo.name, location=ctx.region,
            role="roles/artifactregistry.reader", member=member(node_email),
            opts=ctx.opts(parent=repo))
    return repos
