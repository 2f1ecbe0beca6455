"""`kit down` on a cluster: workloads first, then the stack, then what is still tagged with it.

The order matters: a LoadBalancer Service's cloud load balancer is removed by a controller in
the cluster, so it must go (and be waited for) before the stack destroys that cluster; and a
destroy can leave cloud resources behind, so the cloud's leak report lists them by tag.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any, Callable

from rich.console import Console
from rich.markup import escape

from kit.config import KitConfig
from kit.errors import KitError
from kit.jsonio import read_json
from kit.lock import deployment_lock
from kit.pipeline import DeploymentState

if TYPE_CHECKING:
    from kit.cluster.deps import ClusterDeps


def tear_down(cfg: KitConfig, state: DeploymentState, console: Console, *, purge: bool,
              releases: list[str], kube: Callable[[], Any], deps: "ClusterDeps") -> list[str]:
    """Delete the releases' workloads (load balancers waited for), destroy the stack, forget
    its outputs, and report what is still tagged with it. Returns what was done, one line each."""
    workdir = cfg.workdir
    done: list[str] = []
    with deployment_lock(workdir, "down"):
        saved = read_json(workdir.cluster_outputs)
        if purge:
            refuse_purging_the_data(cfg, saved or {})
        try:
            done += kube().delete_releases(releases)
        except KitError as exc:
            if not deps.support.creates_cluster:
                raise KitError(f"{exc.message}; nothing was destroyed", hint=exc.hint) from None
            console.print(f"  [yellow]cluster unreachable[/] ({escape(exc.message)}): its "
                          "workloads go with it; load balancers are in the report below")
        state.update(endpoint=None, served_run=None)
        done += deps.infra(console).destroy(purge=purge)
        for path in (workdir.cluster_outputs, workdir.kubeconfig):
            path.unlink(missing_ok=True)
        for phase in ("infra", "serve", "smoke"):
            state.set_phase(phase, "stopped", "kit down")
        done += leaks(cfg, deps, saved or {}, purge)
    if purge:
        shutil.rmtree(workdir.root, ignore_errors=True)
        done.append(f"removed {workdir}")
    return done


def refuse_purging_the_data(cfg: KitConfig, saved: dict[str, Any]) -> None:
    """--purge deletes the kit's buckets with everything in them: never when the customer's
    data (data.uri) lives in one of them."""
    from kit.data.storage import bucket_scheme, parse_uri

    if not bucket_scheme(cfg.data.uri):
        return
    data = parse_uri(cfg.data.uri).root
    for key in ("artifacts_uri", "models_uri"):
        uri = saved.get(key)
        if uri and bucket_scheme(uri) and parse_uri(uri).root == data:
            raise KitError(f"data.uri: {cfg.data.uri} is in the kit's own bucket {parse_uri(uri).root}, "
                           "which --purge deletes; nothing was deleted",
                           hint="move the data to a bucket of your own, then run `kit down --purge` again")


def leaks(cfg: KitConfig, deps: "ClusterDeps", saved: dict[str, Any], purge: bool) -> list[str]:
    """What is still tagged with the stack (the kept buckets aside), as advice lines."""
    try:
        return deps.support.leak_report(cfg, saved, purge)
    except Exception as exc:  # the report is advice; the teardown itself has succeeded
        return [f"[yellow]could not list leftovers[/]: {escape(str(exc))[:160]}"]
