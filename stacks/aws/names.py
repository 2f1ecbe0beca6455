"""Names the AWS stack gives its resources, as plain functions (no SDK): the stack, the
default outputs (`kit render` before anything exists), adoption, purge and the leak report
all derive them here, so they always agree."""

from __future__ import annotations

# On every resource (provider default tags): `kit down`'s leak report searches for it.
STACK_TAG = "lima-kit:stack"

# The kit's own resources that outlive `kit down` (retainOnDelete unless --purge). Their
# names are deterministic per stack and account, so the next `kit up` can find and adopt them.
KIT_BUCKETS = ("artifacts", "models")
MODEL_CLASS = "lima-kit-models"   # the StorageClass and VolumeSnapshotClass of staged models
KEY = "key"
KEY_ALIAS = "key-alias"
# The audit trail, kept like the buckets: logical name -> log group name for a deployment.
LOG_GROUPS = {"cluster-logs": "/aws/eks/{name}/cluster",
              "flow-logs": "/lima-kit/{name}/vpc-flow-logs",
              "builder-logs": "/aws/codebuild/{name}-images"}
ADOPTABLE = (*KIT_BUCKETS, KEY, KEY_ALIAS, *LOG_GROUPS)


def log_group_name(name: str, logical: str) -> str:
    return LOG_GROUPS[logical].format(name=name)


def kit_bucket_name(name: str, purpose: str, account: str) -> str:
    """Globally unique and predictable: the platform layer knows it before it exists, and a
    later deployment of the same stack finds what an earlier one kept."""
    return f"{name}-{purpose}-{account}"


def key_alias_name(name: str) -> str:
    return f"alias/lima-kit/{name}"


def short_name(name: str) -> str:
    """Name prefix of the kit's ECR repositories: 19 characters, as when ECR's 30-character
    pull-through prefixes ("<short>/docker-hub") bounded it, so existing repositories keep
    their names."""
    return name[:19].rstrip("-")


def registry_host(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def registry_prefix(name: str, account: str, region: str) -> str:
    """Everything up to and including <short> in the images' paths (stacks/aws/registry.py)."""
    return f"{registry_host(account, region)}/{short_name(name)}"


def builder_project(name: str) -> str:
    """The CodeBuild project that builds the kit's images (`kit images build --remote`)."""
    return f"{name}-images"
