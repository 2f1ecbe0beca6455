"""The Kubernetes layer, the same on every cluster: the objects kit.render renders from
charts/ (namespace, network policies, workloads) plus the NVIDIA device plugin.

Each object is registered as its own typed pulumi_kubernetes resource (SDK-side, no remote
component and no yaml-decode call), so a preview and the offline plan list every object
with its full spec, and the mock tests see them.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi

from kit.errors import KitError
from stacks.cluster_layer import device_plugin
from stacks.contract import ClusterOutputs


def cluster_layer(cfg: Any, cluster: ClusterOutputs, provider: Any, *, run_id: str | None = None,
                  device_plugin_images: dict[str, str] | None = None, review: bool = False,
                  depends_on: list | None = None, owns_namespace: bool = True) -> list[pulumi.Resource]:
    """Without run_id (what `kit up` always runs) the stack holds the platform objects only.
    `kit up` applies each run's workloads itself (server-side apply, field manager lima-kit):
    Pulumi would block an update on a Job for its whole runtime, recreate a Job its TTL
    removed, and roll the server together with a training that has not finished.
    With run_id, every rendered release is registered too: for `kit plan` reviews of one run
    and for teams that drive this program with plain `pulumi up` (stack config `runId`).
    `device_plugin_images` (the stack config's locked digests) adds the NVIDIA device plugin;
    None leaves it out (a cluster that has its own).
    Without `owns_namespace` (a cluster the kit did not create, whose admin made the namespace
    with operator-rbac.yaml) the namespace is a NamespacePatch: the kit sets its Pod Security
    labels and `kit down` removes only those, never the namespace (pulumi-kubernetes v4.29.0
    release notes: "To manage fields on existing objects without owning their lifecycle, use
    Patch resources (e.g. NamespacePatch)"; read 2026-12-07)."""
    try:
        from kit import render
        from kit.render.platform import platform_objects
    except ImportError as exc:
        if exc.name not in ("kit.render", "kit.render.platform"):
            raise
        raise KitError("kit.render: missing from this install, so the charts cannot be rendered",
                       hint="reinstall lima-kit with its cloud's extra, e.g. pip install 'lima-kit[aws]'") from None
    if run_id:
        groups: dict[str, list[dict]] = dict(render.render_objects(cfg, cluster, run_id=run_id,
                                                                   review=review))
    else:
        groups = {"platform": platform_objects(cfg, cluster)}
    if device_plugin_images is not None:
        groups["device-plugin"] = device_plugin.objects(cfg, cluster, device_plugin_images,
                                                        review=review)
    return apply_groups(groups, provider, depends_on=depends_on, owns_namespace=owns_namespace)


# A group registered only once another is done: the server restores the model from the
# snapshot the stage group takes.
AFTER = {"server": "stage"}


def apply_groups(groups: dict[str, list[dict]], provider: Any, depends_on: list | None = None,
                 owns_namespace: bool = True) -> list[pulumi.Resource]:
    """Namespaces first, then everything else (which waits for them). A VolumeSnapshot waits
    for its group's Jobs (Pulumi awaits a Job's completion: the volume is then fully
    written), and a group in AFTER for the group it names."""
    made: list[pulumi.Resource] = []
    namespaces = [o for objs in groups.values() for o in objs if o.get("kind") == "Namespace"]
    for obj in namespaces:
        made.append(register(obj, provider, depends_on=depends_on, patch=not owns_namespace))
    after = list(depends_on or []) + made[:]
    by_group: dict[str, list[pulumi.Resource]] = {}
    for group, objs in groups.items():
        first = after + by_group.get(AFTER.get(group, ""), [])
        jobs: list[pulumi.Resource] = []
        mine = by_group.setdefault(group, [])
        for obj in sorted(objs, key=lambda o: o.get("kind") == "VolumeSnapshot"):
            if obj.get("kind") == "Namespace":
                continue
            resource = register(obj, provider, depends_on=first + (
                jobs if obj.get("kind") == "VolumeSnapshot" else []))
            if obj.get("kind") == "Job":
                jobs.append(resource)
            mine.append(resource)
    made += [r for group in by_group.values() for r in group]
    return made


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def _resource_class(api_version: str, kind: str):
    import pulumi_kubernetes as k8s

    group, _, version = api_version.rpartition("/")
    module = getattr(k8s, group.split(".")[0] if group else "core", None)
    cls = getattr(getattr(module, version, None), kind, None)
    return cls


def register(obj: dict, provider: Any, depends_on: list | None = None,
             patch: bool = False) -> pulumi.Resource:
    """One Kubernetes object -> its typed Pulumi resource (CustomResource for CRD kinds); with
    `patch`, its Patch type: the fields given, on an object someone else owns."""
    import pulumi_kubernetes as k8s

    api_version, kind = obj["apiVersion"], obj["kind"]
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    name = f"{kind.lower()}:{ns}/{meta['name']}" if ns else f"{kind.lower()}:{meta['name']}"
    opts = pulumi.ResourceOptions(provider=provider, depends_on=depends_on or [])
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "status")}
    cls = _resource_class(api_version, kind + ("Patch" if patch else ""))
    if cls is None and set(body) <= {"metadata", "spec"}:
        return k8s.apiextensions.CustomResource(name, api_version=api_version, kind=kind,
                                                opts=opts, **body)
    if cls is None:  # a CRD kind with top-level fields (VolumeSnapshotClass: driver, ...)
        return pulumi.CustomResource(f"kubernetes:{api_version}:{kind}", name,
                                     {"apiVersion": api_version, "kind": kind, **body}, opts=opts)
    return cls(name, opts=opts, **{_snake(k): v for k, v in body.items()})
