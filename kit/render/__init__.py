"""Every Kubernetes object the kit applies for one kit.yaml, rendered offline.

"Helm renders, Pulumi applies": the platform objects are built here as plain dicts, the
fine-tune Job and the inference server come from charts/ through a real Helm engine, and
the Pulumi program (stacks/) registers each object. `kit render` writes the same objects.

    render_objects(cfg, cluster, run_id=None) -> {"platform": [...], "finetune": [...], "server": [...],
                                                  "stage": [...] (clusters with volume snapshots)}
    cluster_for(cfg) -> ClusterOutputs   # defaults when no infrastructure outputs exist
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kit.layout.kube_names import release_name
from kit.render.engine import render_chart
from kit.render.platform import platform_objects
from kit.render.values import default_run_id, finetune_values, server_values, stage_values

if TYPE_CHECKING:
    from kit.config import KitConfig
    from stacks.contract import ClusterOutputs

__all__ = ["cluster_for", "render_objects", "release_values", "default_run_id"]



def _renders(cfg: "KitConfig") -> None:
    """A one-line error where the target runs no Kubernetes objects (local: nothing to render)."""
    from kit.targets import support_for

    support = support_for(cfg.target)
    support.use(support.default_outputs)


def cluster_for(cfg: "KitConfig") -> "ClusterOutputs":
    """The outputs of this deployment's cluster: the stack's own, saved by `kit up`, once it
    has run; before that, what the target's CloudSupport derives from kit.yaml (bucket names as
    the stack will really make them, internal load balancer annotations). Workload-identity
    annotations and private CIDRs are only known from real outputs."""
    from dataclasses import fields

    from kit.jsonio import read_json
    from stacks.clouds import cloud_support
    from stacks.contract import ClusterOutputs

    _renders(cfg)
    saved = read_json(cfg.workdir.cluster_outputs)
    if saved:
        names = {f.name for f in fields(ClusterOutputs)}
        cluster = ClusterOutputs(**{k: v for k, v in saved.items() if k in names})
    else:
        cluster = cloud_support(cfg.target).default_outputs(cfg)
    return cluster


UNPINNED = "lima-kit.io/unpinned-images"


def needed_images(cfg: "KitConfig") -> list[str]:
    return ["kit", "trainer", "proxy", cfg.serving.engine]


def release_values(cfg: "KitConfig", cluster: "ClusterOutputs", *, run_id: str | None = None,
                   images: Mapping[str, str] | None = None,
                   review: bool = False) -> dict[str, tuple[str, dict[str, Any]]]:
    """Release name -> (chart, values) for the charts (kit.images.resolve for `review`): the
    model's stage Job and snapshot come before the server on clusters that can snapshot."""
    run_id = run_id or default_run_id(cfg)
    from kit.images import mirror_join, resolve

    refs = resolve(cfg.workdir, needed_images(cfg), images, registry_prefix=cluster.registry_prefix,
                   join=mirror_join(cfg), review=review)
    extra = {"reviewOnly": True} if review else {}
    releases = {"finetune": ("finetune", {**finetune_values(cfg, cluster, refs, run_id), **extra})}
    if cluster.model_snapshot_class:
        releases["stage"] = ("stage", {**stage_values(cfg, cluster, refs, run_id), **extra})
    releases["server"] = ("tgi", {**server_values(cfg, cluster, refs, run_id), **extra})
    return releases


def render_objects(cfg: "KitConfig", cluster: "ClusterOutputs", *, run_id: str | None = None,
                   images: Mapping[str, str] | None = None,
                   review: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Release (file) name -> the Kubernetes objects of it, "platform" first.

    `images` maps image names (kit.images.IMAGES) to digest references; without
    it, the deployment's images lock (kit.workdir: images.json) is read. With `review`, images
    without a digest are rendered at their release tags and every object of those releases is
    annotated UNPINNED with their names: for reading, never for applying (`kit up` renders
    without it and refuses them).
    """
    from kit.images import unpinned

    _renders(cfg)
    loose = unpinned(cfg.workdir, needed_images(cfg), images) if review else []
    out: dict[str, list[dict[str, Any]]] = {"platform": platform_objects(cfg, cluster)}
    for release, (chart, values) in release_values(cfg, cluster, run_id=run_id, images=images,
                                                   review=bool(loose)).items():
        objects = render_chart(chart, values, release=release_name(cfg.name, release),
                               namespace=cluster.namespace)
        for obj in objects if loose else []:
            obj.setdefault("metadata", {}).setdefault("annotations", {})[UNPINNED] = ",".join(loose)
        out[release] = objects
    return out
