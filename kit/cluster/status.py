"""What `kit status`, `kit runs` and `kit logs` show of a cluster deployment.

Read-only: these ask the cluster what it has and reconcile run records with their Jobs (or,
once a Job is gone, the run's summary.json in the artifacts bucket), and never change
workloads, so they work while `kit up` holds the deployment lock.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Callable, Iterator

from kit.cluster.finetune_jobs import FineTuneJobs
from kit.cluster.serving import Server
from kit.config import KitConfig
from kit.errors import KitError
from kit.jsonio import read_json
from kit.pipeline.ledger import RUNNING, SUCCEEDED
from kit.pipeline.phases import DeploymentState

FOLLOW_POLL_S = 2.0


class ClusterStatus:
    def __init__(self, cfg: KitConfig, state: DeploymentState, jobs: FineTuneJobs,
                 server: Server, kube: Callable[[], Any], cluster: Callable[[], Any]) -> None:
        self.cfg = cfg
        self.state = state
        self.jobs = jobs
        self.store = jobs.store
        self.server = server
        self.kube = kube
        self.cluster = cluster

    def status(self) -> dict[str, Any]:
        """Phases and endpoint; with a cluster, its nodes and GPUs (`cluster`) and the latest
        run's progress (`training`), or `cluster: {"error"}` when its API does not answer."""
        state = self.state.load()
        info: dict[str, Any] = {
            "name": self.cfg.name, "target": self.cfg.target, "endpoint": state.get("endpoint"),
            "ca_file": state.get("ca_file"), "served_model": self.cfg.name, "healthy": False,
            "run_id": state.get("served_run") or state.get("run_id"),
            "serving_run": state.get("served_run"),
            "phases": state.get("phases", {}), "workdir": str(self.cfg.workdir),
            "cluster": None, "training": None}
        if read_json(self.cfg.workdir.cluster_outputs) is None:
            return info
        try:
            kube = self.kube()
            info["cluster"] = kube.nodes()
            latest = next(iter(self.runs()), None)
            if latest:
                info["training"] = {"run_id": latest["id"], "status": latest["status"],
                                    **self._progress(latest)}
            info["healthy"] = self.server.healthy()
        except Exception as exc:  # status reports what it can; an unreachable API is a fact
            info["cluster"] = {"error": " ".join(str(getattr(exc, "message", exc)).split())[:200]}
        return info

    def _progress(self, run: dict[str, Any]) -> dict[str, Any]:
        """A running run's step, loss and ETA, from the end of its trainer's log."""
        if run["status"] != RUNNING:
            return {}
        from kit.cluster.jobwatch import TrainerLog

        log = TrainerLog()
        for line in self.kube().log_lines(self.jobs.pod_of(self.store.get(run["id"])),
                                          "trainer", follow=False, tail=200):
            log.feed(line)
        return {"step": log.step, "total": log.total, "loss": log.loss, "eta_s": log.eta_s}

    def runs(self) -> list[dict[str, Any]]:
        """Every recorded run, newest first, reconciled with its Job when the cluster exists."""
        from kit.layout.buckets import MERGED_SUBDIR
        from kit.render.values import run_uri

        out = []
        try:
            cluster = self.cluster()
        except KitError:
            cluster = None
        for run in self.store.list():
            run = self.jobs.reconcile(run) if cluster is not None else run
            where = run_uri(cluster, run.id) if cluster is not None else None
            out.append({**asdict(run), "artifacts": {
                "dir": where, "log": f"kit logs {run.id}",
                "bench": where + "bench/" if where else None,
                "model": where + MERGED_SUBDIR + "/" if where and run.status == SUCCEEDED else None}})
        return out

    def log_lines(self, run_id: str | None, *, server: bool, follow: bool,
                  raw: bool = False) -> Iterator[str]:
        """The server's engine log, or a run's trainer log (default: the latest run): the pod's
        log as written with raw, else its lines and then the kit's closing event of the run.
        Followed, it waits for the pod to start and goes on to the Job's next pod (a retry)
        while the run is running, like `kubectl logs -f` that does not give up."""
        from kit.logview import run_event

        kube = self.kube()
        if server:
            pods = kube.list("v1", "Pod", labels=f"app.kubernetes.io/instance={self.server.name}")
            if not pods:
                raise KitError(f"{self.cfg.name}: no server pods", hint="see `kit status`")
            yield from kube.log_lines(pods[0]["metadata"]["name"], "engine", follow=follow)
            return
        runs = self.store.list()
        run = self.store.get(run_id) if run_id else (runs[0] if runs else None)
        if run is None:
            raise KitError("no runs yet", hint="start one with `kit up`")
        finished: set[str] = set()     # pods whose log was read to its end
        read: dict[str, int] = {}       # lines read of each pod's log: a reopened stream skips them
        while True:
            try:
                pod: str | None = self.jobs.pod_of(run)
            except KitError:
                if not follow:
                    raise
                pod = None              # the Job has not made its pod yet
            if pod is not None and pod not in finished:
                try:
                    for n, line in enumerate(kube.log_lines(pod, "trainer", follow=follow)):
                        if n >= read.get(pod, 0):
                            read[pod] = n + 1
                            yield line
                    finished.add(pod)
                except Exception:       # not started yet, or the stream dropped: open it again
                    if not follow:
                        raise
            run = self.jobs.reconcile(run)
            if not follow or run.status != RUNNING:
                break
            time.sleep(FOLLOW_POLL_S)
        if not raw:
            yield run_event(asdict(run))
