"""`kit down` on a cluster: workloads first, then the stack, then what is still tagged with it.

The order matters: a LoadBalancer Service's cloud load balancer is removed by a controller in
the cluster, so it must go (and be waited for) before the stack destroys that cluster; and a
destroy can leave cloud resources behind, so the leak report lists them by tag.
"""

from __future__ import annotations

import shutil
from typing import Any, Callable

from rich.console import Console
from rich.markup import escape

from kit.config import KitConfig
from kit.errors import KitError
from kit.jsonio import read_json
from kit.lock import deployment_lock
from kit.pipeline import DeploymentState


def tear_down(cfg: KitConfig, state: DeploymentState, console: Console, *, purge: bool,
              releases: list[str], kube: Callable[[], Any], infra: Callable[[Console], Any],
              tagging: Callable[[], Any]) -> list[str]:
    """Delete the releases' workloads (load balancers waited for), destroy the stack, forget
    its outputs; on AWS, report leftovers. Returns what was done, one line each."""
    workdir = cfg.workdir
    done: list[str] = []
    with deployment_lock(workdir, "down"):
        saved = read_json(workdir / "cluster.json")
        try:
            done += kube().delete_releases(releases)
        except KitError as exc:
            if cfg.target == "kubernetes":
                raise KitError(f"{exc.message}; nothing was destroyed", hint=exc.hint) from None
            console.print(f"  [yellow]cluster unreachable[/] ({escape(exc.message)}): its "
                          "workloads go with it; load balancers are in the report below")
        state.update(endpoint=None, served_run=None)
        done += infra(console).destroy(purge=purge)
        for name in ("cluster.json", "kubeconfig"):
            (workdir / name).unlink(missing_ok=True)
        for phase in ("infra", "serve", "smoke"):
            state.set_phase(phase, "stopped", "kit down")
        if cfg.target == "aws":
            done += leaks(cfg, tagging, saved or {}, purge)
    if purge:
        shutil.rmtree(workdir, ignore_errors=True)
        done.append(f"removed {workdir}")
    return done


def leaks(cfg: KitConfig, tagging: Callable[[], Any], saved: dict[str, Any], purge: bool) -> list[str]:
    """What is still tagged with the stack (the kept buckets aside), as advice lines."""
    from kit.infra import leak_report

    kept = [] if purge else [u[len("s3://"):].split("/")[0] for u in
                             (saved.get("artifacts_uri"), saved.get("models_uri")) if u]
    try:
        return leak_report(tagging(), cfg.name, saved.get("cluster_name") or cfg.name, kept)
    except Exception as exc:  # the report is advice; the teardown itself has succeeded
        return [f"[yellow]could not list leftovers[/]: {escape(str(exc))[:160]} (check: aws "
                f"resourcegroupstaggingapi get-resources --tag-filters Key=lima-kit:stack,"
                f"Values={cfg.name})"]
