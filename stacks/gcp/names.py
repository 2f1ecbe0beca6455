"""Names the GCP stack gives its resources, as plain functions (no SDK): the stack, the
default outputs (`kit render` before anything exists), adoption, purge and the leak report
all derive them here, so they always agree."""

from __future__ import annotations

import hashlib

# On every resource that takes labels (GCP label keys: lowercase, no ':' or '/'): `kit down`'s
# leak report searches for it.
STACK_LABEL = "lima-kit-stack"

# The kit's own resources that outlive `kit down` (retainOnDelete unless --purge), adopted by
# the next `kit up` under the same deterministic names.
KIT_BUCKETS = ("artifacts", "models")
KEY_RING = "key-ring"   # Cloud KMS key rings can never be deleted: always adopted when present
KEY = "key"
LOG_BUCKET = "log-bucket"
ADOPTABLE = (*KIT_BUCKETS, KEY_RING, KEY, LOG_BUCKET)
MODEL_CLASS = "lima-kit-models"   # the StorageClass and VolumeSnapshotClass of staged models
# Google APIs (and Artifact Registry) are reached on the restricted VIP only.
RESTRICTED_VIP = "199.36.153.4/30"


def short_name(name: str) -> str:
    """Prefix for ids with tight limits (service accounts: 6-30 characters)."""
    return name[:20].rstrip("-")


def project_tag(project: str) -> str:
    """8 hex characters standing for the project in global names (bucket names are global and
    at most 63 characters; a project id may be 30)."""
    return hashlib.sha256(project.encode()).hexdigest()[:8]


def kit_bucket_name(name: str, purpose: str, project: str) -> str:
    """Globally unique and predictable: the platform layer knows it before it exists, and a
    later deployment of the same stack in the same project finds what an earlier one kept."""
    return f"{name}-{purpose}-{project_tag(project)}"


def key_ring_name(name: str) -> str:
    return f"lima-kit-{name}"


def key_name() -> str:
    return "kit"


def key_id(project: str, region: str, name: str) -> str:
    return (f"projects/{project}/locations/{region}/keyRings/{key_ring_name(name)}/"
            f"cryptoKeys/{key_name()}")


def log_bucket_name(name: str) -> str:
    return f"lima-kit-{name}"


def registry_host(region: str) -> str:
    return f"{region}-docker.pkg.dev"


def registry_prefix(name: str, project: str, region: str) -> str:
    """The Artifact Registry repository <short>: the kit's own images, and the upstream images
    the kit copies under <segment>/<path> in it (stacks/gcp/registry.py)."""
    return f"{registry_host(region)}/{project}/{short_name(name)}"


def google_account_id(name: str, logical: str) -> str:
    """A Google service account id (6-30 characters: [a-z][a-z0-9-]*[a-z0-9])."""
    return f"{name[:29 - len(logical)].rstrip('-')}-{logical}"


def google_account_email(name: str, logical: str, project: str) -> str:
    return f"{google_account_id(name, logical)}@{project}.iam.gserviceaccount.com"
