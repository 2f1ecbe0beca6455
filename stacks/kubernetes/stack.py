"""The existing cluster's part of the Pulumi program: a provider for kubernetes.context, and
the outputs the platform layer and the charts need."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kit.errors import KitError
from stacks.contract import ClusterOutputs

if TYPE_CHECKING:
    from kit.config import KitConfig
    from stacks.settings import StackSettings


def default_outputs(cfg: "KitConfig") -> ClusterOutputs:
    """The buckets are the operator's own (kit.yaml storage:), never names the kit guesses."""
    from kit.data.storage import BUCKET_FORMS, parse_uri

    loc = parse_uri(cfg.data.uri)
    if loc.scheme == "file":
        raise KitError(f"data.uri: {cfg.data.uri!r} is not a bucket the cluster can read",
                       hint=f"upload the data to a {BUCKET_FORMS} prefix: kit data push PATH URI")
    return ClusterOutputs(
        cloud="kubernetes", cluster_name=cfg.kubernetes.context or "current",
        namespace=cfg.kubernetes.namespace, artifacts_uri=cfg.storage.artifacts_uri or "",
        models_uri=cfg.storage.models_uri or "", bucket_owner=cfg.storage.bucket_owner or "",
        data_uri=cfg.data.uri, model_storage_class=cfg.kubernetes.storage_class or "",
        model_snapshot_class=cfg.kubernetes.snapshot_class or "")


def build(settings: "StackSettings") -> tuple[ClusterOutputs, None, Any]:
    import pulumi_kubernetes as k8s

    cfg = settings.kit
    provider = k8s.Provider("cluster", context=cfg.kubernetes.context or None,
                            enable_server_side_apply=True)
    return default_outputs(cfg), None, provider
