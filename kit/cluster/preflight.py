"""Preflight (`kit doctor`, and the first phase of `kit up` on a cluster): every missing
prerequisite at once, one line each with its fix, in seconds, creating nothing.

Each check is a small function returning a Check; they run in parallel on daemon threads
with a deadline, so an unreachable endpoint costs its timeout once and cannot hold the
process. Which checks run depends on the target (a table, not a class tree).
"""

from __future__ import annotations

import importlib.util
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from kit.errors import KitError
from stacks.clouds import Check, cloud_support, for_state

if TYPE_CHECKING:
    from kit.config import KitConfig

TIMEOUT_S = 6.0
__all__ = ["Check", "run", "require_ok", "checks_for"]


# --- the checks every cluster target runs (the cloud adds its own: CloudSupport.preflight) --

def pulumi_cli(cfg: "KitConfig") -> Check:
    path = shutil.which("pulumi")
    if path is None:
        from kit.infra.driver import INSTALL_HINT

        return Check("pulumi", False, "the Pulumi CLI is not on PATH", INSTALL_HINT)
    return Check("pulumi", True, path)


def packages(cfg: "KitConfig") -> Check:
    support = cloud_support(cfg.target)
    missing = [m for m in support.modules if importlib.util.find_spec(m) is None]
    if missing:
        return Check("python packages", False, f"missing {', '.join(missing)}",
                     f"pip install 'lima-kit[{support.extra}]'")
    return Check("python packages", True, "installed")


def gpu_pool(cfg: "KitConfig") -> Check:
    """gpu.type x gpu.count is in the cloud's catalog (an existing cluster has none to check)."""
    support = cloud_support(cfg.target)
    if not support.creates_cluster:
        return _gpus_advertised(cfg)
    if not support.gpu_catalog:
        return Check("gpu pool", True, f"{cfg.gpu.count} x {cfg.gpu.type} per node (your cluster's)")
    offer = support.gpu_offer(cfg.gpu.type, cfg.gpu.count)
    return Check("gpu pool", True, f"{cfg.gpu.count} x {cfg.gpu.type} per node: "
                                   f"{', '.join(offer.machine_types)}, up to {cfg.gpu.max_nodes} node(s)")


def _gpus_advertised(cfg: "KitConfig") -> Check:
    """On a cluster of yours the admin installs the NVIDIA device plugin (or GPU Operator):
    some node must advertise gpu.count `nvidia.com/gpu`, or the fine-tune Job never schedules."""
    from kit.cluster.kube import connect_deployment

    try:
        nodes = connect_deployment(cfg).nodes()
    except KitError as exc:
        return Check("gpu pool", False, exc.message, exc.hint)
    except Exception as exc:
        return Check("gpu pool", False, f"cannot list nodes: {' '.join(str(exc).split())[:160]}",
                     "check the network path and `kubectl get nodes`")
    if nodes["most_gpus"] < cfg.gpu.count:
        return Check("gpu pool", False, f"no node advertises {cfg.gpu.count} nvidia.com/gpu "
                     f"(most on one node: {nodes['most_gpus']})",
                     "a cluster admin installs the NVIDIA device plugin or GPU Operator on the "
                     "GPU nodes (docs/cluster.md), or lower gpu.count")
    return Check("gpu pool", True, f"{nodes['gpu_nodes']} node(s) advertise nvidia.com/gpu, "
                                   f"up to {nodes['most_gpus']} each")


def cluster(cfg: "KitConfig") -> Check:
    """The API server answers (an existing cluster; a cloud's once `kit up` saved a kubeconfig)."""
    from kit.cluster.kube import TIMEOUT, connect, saved_kubeconfig

    kubeconfig = saved_kubeconfig(cfg)
    if kubeconfig is None and cloud_support(cfg.target).creates_cluster:
        return Check("cluster", True, "created by `kit up` (infra phase)")
    try:
        kube = connect(kubeconfig=kubeconfig, context=cfg.kubernetes.context,
                       namespace=cfg.kubernetes.namespace)
        kube.core.get_api_resources(_request_timeout=TIMEOUT)
    except KitError as exc:
        return Check("cluster", False, exc.message, exc.hint)
    except Exception as exc:
        return Check("cluster", False, f"the API server does not answer: {' '.join(str(exc).split())[:160]}",
                     "check the network path (VPN, operator_cidrs) and `kubectl cluster-info`")
    return Check("cluster", True, f"reachable ({cfg.kubernetes.context or 'current context'})")


def permissions(cfg: "KitConfig") -> Check:
    """Every verb the kit needs (kit.cluster.rbac), asked of the API server at once: on an
    existing cluster, and on a stack's once it exists (the access a cloud grants its operator
    differs: EKS an access entry, GKE the project's IAM)."""
    from kit.cluster.kube import connect_deployment, saved_kubeconfig
    from kit.cluster.rbac import reviews

    if cloud_support(cfg.target).creates_cluster and saved_kubeconfig(cfg) is None:
        return Check("permissions", True, "the cluster is made by `kit up`, which gives its "
                     "operator access (checked here once it exists)")
    try:
        denied = connect_deployment(cfg).denied(reviews(cfg.kubernetes.namespace))
    except KitError as exc:
        return Check("permissions", False, exc.message, exc.hint)
    if denied:
        return Check("permissions", False, f"{len(denied)} missing: {', '.join(denied)}",
                     "ask a cluster admin to apply operator-rbac.yaml from `kit render --out DIR` "
                     "(it binds the group lima-kit-operators)")
    return Check("permissions", True, "every verb the kit needs is granted")


def model_volumes(cfg: "KitConfig") -> Check:
    """Where the server's model is staged: on a snapshot-capable volume (a cloud stack makes
    the classes; an existing cluster names them), else in the server's own pod."""
    from kit.cluster.kube import SNAPSHOT_API, connect_deployment

    k8s = cfg.kubernetes
    if cloud_support(cfg.target).creates_cluster:
        return Check("model volumes", True, "snapshot classes made by `kit up`")
    if not k8s.snapshot_class:
        return Check("model volumes", True, "staged inside the server's pod, which then shares "
                     "storage access with the engine (set kubernetes.storage_class and "
                     "snapshot_class to keep it out)")
    try:
        kube = connect_deployment(cfg)
        if not kube.serves(SNAPSHOT_API, "VolumeSnapshotClass"):
            return Check("model volumes", False, "kubernetes.snapshot_class: this cluster has no "
                         "VolumeSnapshot API", "install the CSI snapshot controller and its CRDs, "
                         "or unset kubernetes.storage_class and snapshot_class")
        storage = {o["metadata"]["name"]: o for o in kube.list("storage.k8s.io/v1", "StorageClass",
                                                               namespaced=False)}
        snapshots = {o["metadata"]["name"]: o for o in kube.list(SNAPSHOT_API, "VolumeSnapshotClass",
                                                                 namespaced=False)}
    except KitError as exc:
        return Check("model volumes", False, exc.message, exc.hint)
    for key, found in (("storage_class", storage), ("snapshot_class", snapshots)):
        if getattr(k8s, key) not in found:
            return Check("model volumes", False, f"kubernetes.{key}: no {getattr(k8s, key)!r} on "
                         "this cluster", f"one of: {', '.join(sorted(found)) or '(none)'}")
    provisioner = storage[k8s.storage_class].get("provisioner")
    driver = snapshots[k8s.snapshot_class].get("driver")
    if provisioner != driver:
        return Check("model volumes", False, f"kubernetes.snapshot_class: {k8s.snapshot_class!r} is "
                     f"for {driver}, storage_class {k8s.storage_class!r} for {provisioner}",
                     "name two classes of the same CSI driver")
    return Check("model volumes", True, f"{k8s.storage_class} volumes, snapshots by "
                 f"{k8s.snapshot_class} ({driver})")


def data_bucket(cfg: "KitConfig") -> Check:
    from kit.data import storage

    uri = cfg.data.uri
    if not storage.is_remote(uri):
        return Check("data", False, f"{uri} is on this machine; the cluster reads data from a bucket",
                     "upload it with `kit data push PATH BUCKET_URI` and set data.uri")
    try:
        first = next(iter(storage.open_store(uri, workers=1).list()), None)
    except KitError as exc:
        return Check("data", False, exc.message, exc.hint)
    except Exception as exc:
        return Check("data", False, f"{uri}: cannot list: {' '.join(str(exc).split())[:160]}",
                     "check the bucket name and that your credentials may read it")
    if first is None:
        return Check("data", False, f"{uri}: no objects there", "kit data push PATH " + uri)
    return Check("data", True, f"{uri} readable")


def images_lock(cfg: "KitConfig") -> Check:
    """Upstream images must be pinned (a reviewed lock); the kit's own may be missing when
    `kit up` can build and push them itself (an engine here, a registry of the stack's)."""
    import shutil

    from kit.images import COPIED, IMAGES, KIT_IMAGES, built_for_another_version, current_lock
    from kit.images.build import find_engine
    from kit.images.copy import INSTALL_HINT

    support = cloud_support(cfg.target)
    refs = current_lock(cfg.workdir)
    upstream = [n for n in ("proxy", cfg.serving.engine, *support.stack_images) if n not in refs]
    if upstream:
        wanted = ", ".join(f"{n} ({IMAGES[n].repository}:{IMAGES[n].tag})" for n in upstream)
        return Check("images", False, f"no digest for {wanted} in {cfg.workdir.images_lock}",
                     f"kit images lock {' '.join(upstream)} (where the registries are reachable), "
                     "or kit images lock --from FILE")
    copied = [n for n in support.stack_images if IMAGES[n].repository in COPIED]
    if support.copies_upstreams and support.has_registry and not shutil.which("skopeo"):
        return Check("images", False, "skopeo not found: `kit up` copies every upstream image "
                                      "into the stack's registry (no pull-through cache)",
                     INSTALL_HINT)
    if copied and support.has_registry and not shutil.which("skopeo"):
        return Check("images", False, "skopeo not found: `kit up` copies the NVIDIA device plugin "
                                      "(nvcr.io: no pull-through cache) into the stack's registry",
                     INSTALL_HINT)
    own = [n for n in KIT_IMAGES if n not in refs or built_for_another_version(refs[n])]
    if not own:
        return Check("images", True, f"pinned by digest in {cfg.workdir.images_lock}")
    push = f"kit images build {' '.join(own)} && kit images push {' '.join(own)} --registry HOST/PREFIX"
    if not support.has_registry:
        return Check("images", False, f"no digest for {', '.join(own)} and no registry of the "
                                      "kit's own on this cluster", push)
    engine = find_engine()
    return Check("images", True, f"upstream images pinned; {', '.join(own)} will be built with "
                                 f"{engine} and pushed to the stack's registry by `kit up`")


def model_source(cfg: "KitConfig") -> Check:
    from kit.data.storage import bucket_scheme
    from kit.render.values import check_model_source, data_uri

    try:
        data_uri(cfg)
        check_model_source(cfg)
    except KitError as exc:
        return Check("config", False, exc.message, exc.hint)
    where = cfg.model.id if bucket_scheme(cfg.model.id) else \
        f"{cfg.model.id}@{cfg.model.revision}, mirrored into the kit's models bucket"
    return Check("config", True, f"base weights from {where}")


def operator_path(cfg: "KitConfig") -> Check:
    """How this machine reaches what `kit up` talks to: a blocker from kit.yaml alone, else
    the path each takes (kit.infra.blockers, CloudSupport.operator_reach)."""
    from kit.infra.blockers import operator_path as blocked
    from kit.infra.blockers import reach

    found = blocked(cfg)
    if found:
        return Check("operator path", False, found[0].detail, found[0].fix)
    paths = reach(cfg)
    if not paths:
        return Check("operator path", True, f"through kubeconfig context "
                     f"{cfg.kubernetes.context or '(current)'}")
    return Check("operator path", True, "; ".join(f"{r.what}: {r.source}" for r in paths if r.needed))


def state_backend(cfg: "KitConfig") -> Check:
    url = cfg.state_url
    if url.startswith("file://"):
        parent = Path(url[len("file://"):])
        while not parent.exists():
            parent = parent.parent
        import os

        if not os.access(parent, os.W_OK):
            return Check("state", False, f"{url}: {parent} is not writable", "set state: in kit.yaml")
        return Check("state", True, url)
    support = for_state(url)
    found = support.state_check(cfg) if support else None
    return found or Check("state", True, url)


def checks_for(cfg: "KitConfig") -> list[Callable[["KitConfig"], Check]]:
    """The target's checks: the neutral ones, with the cloud's own before the cluster's."""
    cloud = cloud_support(cfg.target).preflight(cfg)
    from kit.cluster.hub_access import model_access

    return [pulumi_cli, packages, model_source, model_access, gpu_pool, images_lock, state_backend,
            operator_path, *cloud, cluster, permissions, model_volumes, data_bucket]


# What the checks import, loaded once before they run in parallel: two threads importing the
# same package for the first time can trip Python's import-lock deadlock detection.
PRELOAD = ("kit.render", "kit.images", "kit.render.values", "kit.data.storage",
           "kit.cluster.kube", "kit.infra.driver", "kit.infra.blockers", "huggingface_hub",
           "huggingface_hub.errors")


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # a missing extra is reported by the check that needs it


def run(cfg: "KitConfig", checks: list[Callable[["KitConfig"], Check]] | None = None,
        timeout_s: float = TIMEOUT_S) -> list[Check]:
    """Run the checks in parallel; one that has not answered by the deadline fails."""
    _preload()
    todo = checks if checks is not None else checks_for(cfg)
    results: list[Check | None] = [None] * len(todo)

    def one(i: int, fn: Callable[["KitConfig"], Check]) -> None:
        name = fn.__name__.replace("_", " ")
        try:
            results[i] = fn(cfg)
        except KitError as exc:
            results[i] = Check(name, False, exc.message, exc.hint)
        except ImportError as exc:
            results[i] = Check(name, False, f"missing package {exc.name}",
                               f"pip install 'lima-kit[{cloud_support(cfg.target).extra}]'")
        except Exception as exc:  # a check must never crash the report
            results[i] = Check(name, False, f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}")

    threads = [threading.Thread(target=one, args=(i, fn), daemon=True) for i, fn in enumerate(todo)]
    for t in threads:
        t.start()
    deadline = threading.Event()
    timer = threading.Timer(timeout_s, deadline.set)
    timer.daemon = True
    timer.start()
    for t in threads:
        while t.is_alive() and not deadline.is_set():
            t.join(0.05)
    timer.cancel()
    return [r if r is not None else
            Check(fn.__name__.replace("_", " "), False, f"no answer within {timeout_s:.0f}s",
                  "check network access to it")
            for r, fn in zip(results, todo, strict=True)]


def require_ok(cfg: "KitConfig", console, checks: list[Check] | None = None) -> list[Check]:
    """Print the problems (one line each) and stop with one error if there are any."""
    results = checks if checks is not None else run(cfg)
    from rich.markup import escape

    bad = [c for c in results if not c.ok]
    for c in bad:
        fix = f" (fix: {escape(c.fix)})" if c.fix else ""
        console.print(f"  [red]✗[/] {escape(c.name)}: {escape(c.detail)}{fix}",
                      soft_wrap=True, markup=True, highlight=False)
    if bad:
        raise KitError(f"preflight: {len(bad)} problem(s) listed above; nothing was created",
                       hint="fix them, then run the command again (`kit doctor` checks again)")
    return results
