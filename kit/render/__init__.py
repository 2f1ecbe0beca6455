"""Every Kubernetes object the kit applies for one kit.yaml, rendered offline.

"Helm renders, Pulumi applies": the platform objects are built here as plain dicts, the
fine-tune Job and the inference server come from charts/ through a real Helm engine, and
the Pulumi program (stacks/) registers each object. `kit render` writes the same objects.

    render_objects(cfg, cluster, run_id=None) -> {"platform": [...], "finetune": [...], "server": [...]}
    cluster_for(cfg) -> ClusterOutputs   # defaults when no infrastructure outputs exist
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kit.errors import KitError
from kit.render.clouds import cloud_for, kit_buckets
from kit.render.engine import render_chart
from kit.render.images import resolve
from kit.render.platform import platform_objects
from kit.render.values import default_run_id, finetune_values, release_name, server_values

if TYPE_CHECKING:
    from kit.config import KitConfig
    from stacks.contract import ClusterOutputs

__all__ = ["cluster_for", "render_objects", "release_values", "default_run_id"]


def cluster_for(cfg: "KitConfig") -> "ClusterOutputs":
    """What a target provides when no infrastructure outputs exist yet.

    target kubernetes: the existing cluster of kubernetes.context; clouds: the bucket names
    `kit up` derives from `name`, and the cloud's internal load balancer annotations.
    Workload-identity annotations and private CIDRs are only known from real outputs.
    """
    from stacks.contract import ClusterOutputs

    if cfg.target == "local":
        raise KitError("target: local runs no Kubernetes objects, so there is nothing to render",
                       hint="set target to kubernetes, aws, gcp or azure")
    cloud = cloud_for(cfg.target)
    scheme = cloud.scheme or cfg.data.uri.split("://", 1)[0]
    if scheme not in ("s3", "gs", "az"):
        raise KitError(f"data.uri: {cfg.data.uri!r} is not a bucket the cluster can read",
                       hint="upload the data to an s3://, gs:// or az:// prefix")
    artifacts, models = kit_buckets(cfg.name, scheme, cfg.data.uri,
                                    existing_cluster=cfg.target == "kubernetes")
    return ClusterOutputs(
        cloud=cfg.target,
        cluster_name=(cfg.kubernetes.context if cfg.target == "kubernetes" else None) or cfg.name,
        namespace=cfg.kubernetes.namespace,
        artifacts_uri=artifacts,
        models_uri=models,
        data_uri=cfg.data.uri,
        internal_lb_annotations=dict(cloud.internal_lb),
    )


def release_values(cfg: "KitConfig", cluster: "ClusterOutputs", *, run_id: str | None = None,
                   images: Mapping[str, str] | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    """Release name -> (chart, values) for the two charts."""
    run_id = run_id or default_run_id(cfg)
    needed = ["kit", "trainer", "proxy", cfg.serving.engine]
    refs = resolve(cfg.workdir, needed, images, registry_prefix=cluster.registry_prefix)
    return {
        "finetune": ("finetune", finetune_values(cfg, cluster, refs, run_id)),
        "server": ("tgi", server_values(cfg, cluster, refs, run_id)),
    }


def render_objects(cfg: "KitConfig", cluster: "ClusterOutputs", *, run_id: str | None = None,
                   images: Mapping[str, str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Release (file) name -> the Kubernetes objects of it, "platform" first.

    `images` maps image names (kit.render.images.IMAGES) to digest references; without
    it, the deployment's images lock (<workdir>/images.json) is read.
    """
    if cfg.target == "local":
        raise KitError("target: local runs no Kubernetes objects, so there is nothing to render",
                       hint="set target to kubernetes, aws, gcp or azure")
    out: dict[str, list[dict[str, Any]]] = {"platform": platform_objects(cfg, cluster)}
    for release, (chart, values) in release_values(cfg, cluster, run_id=run_id, images=images).items():
        out[release] = render_chart(chart, values, release=release_name(cfg, release),
                                    namespace=cluster.namespace)
    return out
