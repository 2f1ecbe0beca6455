"""What the GCP stack will hand the kit, known before it exists (`kit render`, `kit doctor`,
the offline plan): the names come from stacks/gcp/names.py, exactly as the stack builds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stacks.contract import ClusterOutputs
from stacks.gcp import SUPPORT
from stacks.gcp.names import (
    MODEL_CLASS,
    RESTRICTED_VIP,
    google_account_email,
    kit_bucket_name,
    registry_prefix,
)

if TYPE_CHECKING:
    from kit.config import KitConfig


def default_outputs(cfg: "KitConfig") -> ClusterOutputs:
    """gcp.project is required for the target (kit.config), so every name is known. The
    buckets' owner (GCS checks the project *number*) is known once the stack has read it."""
    return outputs(cfg, cfg.gcp.project or "", "", private_cidrs=[cfg.gcp.subnet_cidr])


def outputs(cfg: "KitConfig", project: str, project_number: str, *,
            private_cidrs: list[str]) -> ClusterOutputs:
    """The contract's outputs for a deployment in `project` (the stack's, and the defaults)."""
    key = SUPPORT.identity_annotation
    return ClusterOutputs(
        cloud="gcp", cluster_name=cfg.name, namespace=cfg.kubernetes.namespace,
        artifacts_uri=f"gs://{kit_bucket_name(cfg.name, 'artifacts', project)}",
        models_uri=f"gs://{kit_bucket_name(cfg.name, 'models', project)}",
        bucket_owner=project_number, data_uri=cfg.data.uri,
        trainer_sa_annotations={key: google_account_email(cfg.name, "trainer", project)},
        server_sa_annotations={key: google_account_email(cfg.name, "server", project)},
        registry_prefix=registry_prefix(cfg.name, project, cfg.region or ""),
        internal_lb_annotations=dict(SUPPORT.internal_lb),
        private_cidrs=list(private_cidrs),
        # Google APIs, Cloud Storage included, resolve to the restricted VIP inside the network.
        storage_cidrs=[RESTRICTED_VIP],
        model_storage_class=MODEL_CLASS, model_snapshot_class=MODEL_CLASS,
    )
