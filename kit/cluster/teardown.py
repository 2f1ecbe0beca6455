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
from kit.deploy_lock import deployment_lock
from kit.errors import KitError
from kit.jsonio import read_json
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
            refuse_purging_the_data(cfg, lambda: kit_storage(cfg, saved, deps, console))
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


def kit_storage(cfg: KitConfig, saved: dict[str, Any] | None, deps: "ClusterDeps",
                console: Console) -> list[str]:
    """Every URI the kit's own storage may have: the names the stack derives from kit.yaml
    (the same on any machine), this machine's saved outputs, and, when this machine saved none
    (another machine or CI ran `kit up`), the outputs recorded in the stack's state."""
    outputs: list[dict[str, Any]] = []
    try:
        outputs.append(vars(deps.support.default_outputs(cfg)))
    except KitError:  # names that need more than kit.yaml says (e.g. no aws.account_id)
        pass
    if saved:
        outputs.append(saved)
    else:
        stored = deps.infra(console).outputs()
        if stored is not None:
            outputs.append(vars(stored))
    return [o[key] for o in outputs for key in ("artifacts_uri", "models_uri") if o.get(key)]


def refuse_purging_the_data(cfg: KitConfig, kit_uris: Callable[[], list[str]]) -> None:
    """--purge deletes the kit's storage with everything in it: never when the customer's data
    (data.uri) lives there. Compared by what a purge deletes whole (`Location.purge_unit`: the
    bucket, or on Azure the kit's storage account), not by prefix."""
    from kit.data.storage import bucket_scheme, parse_uri

    if not bucket_scheme(cfg.data.uri):
        return
    data = parse_uri(cfg.data.uri).purge_unit
    for uri in kit_uris():
        if bucket_scheme(uri) and parse_uri(uri).purge_unit == data:
            raise KitError(f"data.uri: {cfg.data.uri} is in the kit's own storage {data}, "
                           "which --purge deletes; nothing was deleted",
                           hint="move the data to a bucket of your own, then run `kit down --purge` again")


def leaks(cfg: KitConfig, deps: "ClusterDeps", saved: dict[str, Any], purge: bool) -> list[str]:
    """What is still tagged with the stack (the kept buckets aside), as advice lines."""
    try:
        return deps.support.leak_report(cfg, saved, purge)
    except Exception as exc:  # the report is advice; the teardown itself has succeeded
        return [f"[yellow]could not list leftovers[/]: {escape(str(exc))[:160]}"]
