"""Targets `kubernetes` (an existing cluster) and `aws` (the AWS stack, then the same platform).

Pulumi owns the infrastructure and the platform layer (kit.infra). The kit itself applies each
run's workloads, rendered from charts/ (kit.render), with server-side apply: a Job runs for
days and is deleted by its TTL, which a Pulumi resource (awaited for 10 minutes, recreated on
refresh) cannot model. `kit down` deletes those workloads first, load balancers waited for,
then destroys the stack and lists what is still tagged with it.

Serving (kit.targets.cluster_serving), `kit down` (cluster_teardown), `kit status`/`runs`/`logs`
(cluster_status) and the fine-tune runs (cluster_runs) live beside this module; ClusterTarget
runs the phases and hands the rest to them.

Files in <workdir> (.kit/<name>/): state.json (phases), cluster.json (stack outputs),
kubeconfig (0600, cloud stacks), cluster-runs/<id>.json (one record per fine-tune run).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, fields
from typing import Any, Callable, Iterator

from rich.console import Console

from kit.config import KitConfig
from kit.errors import KitError
from kit.jsonio import read_json, write_json
from kit.lock import deployment_lock
from kit.pipeline import DeploymentState, Outcome, fingerprint, run_phases
from kit.runs import FAILED, RUNNING, SUCCEEDED, Run, RunStore
from kit.targets.cluster_runs import FineTunes, Ledger
from kit.targets.cluster_serving import Server
from kit.targets.cluster_status import ClusterStatus

UNSUPPORTED = ("gcp", "azure")


def saved_kubeconfig(cfg: KitConfig) -> dict | None:
    path = cfg.workdir / "kubeconfig"
    return json.loads(path.read_text()) if path.exists() else None


def _ask(question: str) -> bool:
    import click

    return sys.stdin.isatty() and click.confirm(question, default=False)


class ClusterTarget:
    """A deployment on a Kubernetes cluster: the phases of `kit up`, `kit train`, `kit serve`."""

    def __init__(self, cfg: KitConfig, *, infra: Callable[[Console], Any] | None = None,
                 connect: Callable[[], Any] | None = None,
                 checks: Callable[[KitConfig], list] | None = None,
                 tagging: Callable[[], Any] | None = None,
                 storage: Callable[[str], Any] | None = None) -> None:
        if cfg.target in UNSUPPORTED:
            raise KitError(f"target: {cfg.target}: its infrastructure stack is not in this release",
                           hint="`kit render --out DIR` writes every Kubernetes object for any "
                                "cluster; on an existing GKE/AKS cluster use target: kubernetes")
        self.cfg = cfg
        self.workdir = cfg.workdir
        self.state = DeploymentState(self.workdir / "state.json")
        self.ledger = Ledger(self.workdir / "cluster-runs")
        self.job_name = f"{cfg.name}-finetune"
        self.console = Console()
        self.runs_ = FineTunes(cfg, self.ledger, self.kube, self.cluster, self.console,
                               storage=storage)
        self.server = Server(cfg, self.state, self.kube, self.cluster, self.console)
        self.status_ = ClusterStatus(cfg, self.state, self.runs_, self.server, self.kube,
                                     self.cluster)
        self._infra_factory = infra or self._real_infra
        self._connect = connect or self._real_connect
        self._checks = checks
        self._tagging = tagging or self._real_tagging
        self._kube: Any = None
        self._data_id = ""
        self._model_rev = cfg.model.revision
        self._run: Run | None = None

    # --- seams (real implementations) -------------------------------------------------

    def _real_infra(self, console: Console) -> Any:
        from kit.infra import Infra

        return Infra(self.cfg, console, confirm=_ask)

    def _real_connect(self) -> Any:
        from kit.k8s import connect

        kubeconfig = saved_kubeconfig(self.cfg)
        if kubeconfig is None and self.cfg.target != "kubernetes":
            raise KitError(f"{self.cfg.name}: no kubeconfig for its cluster yet",
                           hint="`kit up` creates the cluster and saves one")
        return connect(kubeconfig=kubeconfig,
                       context=None if kubeconfig else self.cfg.kubernetes.context,
                       namespace=self.cfg.kubernetes.namespace)

    def _real_tagging(self) -> Any:
        import boto3

        return boto3.client("resourcegroupstaggingapi", region_name=self.cfg.region)

    def _use(self, console: Console) -> None:
        self.console = self.runs_.console = self.server.console = console

    def kube(self) -> Any:
        if self._kube is None:
            self._kube = self._connect()
        return self._kube

    def cluster(self):
        """Saved stack outputs, gaps filled with the defaults the renderer derives."""
        from kit.render import cluster_for
        from stacks.contract import ClusterOutputs

        saved = read_json(self.workdir / "cluster.json")
        if saved is None:
            raise KitError(f"{self.cfg.name}: no infrastructure yet", hint="run `kit up`")
        base = cluster_for(self.cfg)
        names = {f.name for f in fields(ClusterOutputs)}
        return ClusterOutputs(**{**asdict(base), **{k: v for k, v in saved.items() if k in names and v}})

    # --- kit up ------------------------------------------------------------------------

    def preflight(self, console: Console) -> None:
        from kit.preflight import require_ok, run

        console.print("[bold cyan]▸ preflight[/]")
        started = time.monotonic()
        results = self._checks(self.cfg) if self._checks else run(self.cfg)
        require_ok(self.cfg, console, results)
        console.print(f"  [green]✓[/] {len(results)} prerequisites present "
                      f"[dim]({time.monotonic() - started:.1f}s)[/]")

    def up(self, console: Console, *, detach: bool = False) -> dict[str, Any]:
        self._use(console)
        self.preflight(console)
        with deployment_lock(self.workdir, "up"):
            phases = [("infra", self._phase_infra), ("mirror", self._phase_mirror),
                      ("data", self._phase_data),
                      ("fine-tune", lambda: self._phase_finetune(detach=detach))]
            if not detach:
                phases += [("serve", self._phase_serve), ("smoke", self._phase_smoke)]
            run_phases(phases, self.state, console)
        run_id = self._run.id if self._run else None
        return {"run_id": run_id, "endpoint": None if detach else self.state.load().get("endpoint")}

    def train(self, console: Console, *, detach: bool = False) -> Run:
        """A new fine-tune run on the existing infrastructure (`kit train`)."""
        self._use(console)
        self.cluster()
        with deployment_lock(self.workdir, "train"):
            run_phases([("data", self._phase_data),
                        ("fine-tune", lambda: self._phase_finetune(detach=detach, new=True))],
                       self.state, console)
        assert self._run is not None
        return self._run

    def serve(self, console: Console, run_id: str) -> dict[str, Any]:
        """Roll the server to a chosen run (`kit serve --run ID`, also a rollback)."""
        self._use(console)
        run = self.runs_.settle(self.ledger.get(run_id))
        if run.status != SUCCEEDED:
            raise KitError(f"run {run_id} is {run.status}, not succeeded: there is no model to serve",
                           hint="pick a succeeded run from `kit runs`")
        self._run = run
        with deployment_lock(self.workdir, "serve"):
            run_phases([("serve", self._phase_serve), ("smoke", self._phase_smoke)], self.state, console)
        return {"run_id": run.id, "endpoint": self.state.load().get("endpoint")}

    def _phase_infra(self) -> Outcome:
        infra = self._infra_factory(self.console)
        outputs, changes = infra.up()
        data = asdict(outputs)
        kubeconfig = data.pop("kubeconfig", "")
        write_json(self.workdir / "cluster.json", data)
        if kubeconfig:
            path = self.workdir / "kubeconfig"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(kubeconfig if isinstance(kubeconfig, str) else json.dumps(kubeconfig))
        self._kube = None
        what = ", ".join(f"{n} {op}" for op, n in sorted(changes.items())) or "no changes"
        return Outcome(f"stack {self.cfg.name}: {what} [dim]({outputs.cluster_name})[/]",
                       skipped=not changes)

    def _phase_mirror(self) -> Outcome:
        from kit.data import storage
        from kit.render.clouds import bucket_scheme
        from kit.render.images import resolve
        from kit.render.values import base_model_uri

        cluster = self.cluster()
        resolve(self.workdir, ["kit", "trainer", "proxy", self.cfg.serving.engine],
                registry_prefix=cluster.registry_prefix)
        model = self.cfg.model.id
        if bucket_scheme(model):
            return Outcome(f"weights are read from {model}", skipped=True)
        dest = base_model_uri(self.cfg, cluster)
        manifest = storage.read_manifest(storage.open_store(dest))
        meta = manifest.meta if manifest else {}
        if meta.get("requested_revision") == self.cfg.model.revision or \
                meta.get("revision") == self.cfg.model.revision:
            self._model_rev = meta.get("revision") or self.cfg.model.revision
            return Outcome(f"{model}@{self._model_rev} already in {dest}", skipped=True)
        from kit.data.mirror import mirror

        result = mirror(model, dest, revision=self.cfg.model.revision)
        self._model_rev = (result.manifest.meta.get("revision") if result.manifest else None) \
            or self.cfg.model.revision
        return Outcome(f"{model}@{self._model_rev} → {dest}: {result.transferred} uploaded, "
                       f"{result.skipped} unchanged")

    def _phase_data(self) -> Outcome:
        from kit.data.manifest import dataset_fingerprint
        from kit.data.validate import validate
        from kit.render.values import data_uri

        uri = data_uri(self.cfg)
        report = validate(uri, max_length=self.cfg.training.max_length)
        if not report.ok:
            more = f" (+{len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
            raise KitError(f"data.uri: {report.errors[0]}{more}",
                           hint=f"see all problems: kit data validate {uri}")
        self._data_id = dataset_fingerprint(uri)
        warn = f", {len(report.warnings)} warning(s)" if report.warnings else ""
        return Outcome(f"{report.examples} examples valid{warn} [dim]({uri})[/]")

    # --- fine-tune -----------------------------------------------------------------------

    def _fingerprint(self) -> str:
        from kit.render.images import resolve
        from kit.trainer import TRAINER_VERSION

        image = resolve(self.workdir, ["trainer"])["trainer"]
        return fingerprint(data=self._data_id, model=f"{self.cfg.model.id}@{self._model_rev}",
                           training=self.cfg.training.model_dump(), gpu=self.cfg.gpu.model_dump(),
                           trainer=TRAINER_VERSION, image=image)

    def _phase_finetune(self, *, detach: bool, new: bool = False) -> Outcome:
        key = self._fingerprint()
        self.runs_.settle_all()  # a detached run may have ended since: record how first
        if not new:
            done = self.ledger.find(key, SUCCEEDED)
            if done is not None:
                self._run = done
                self.state.update(run_id=done.id)
                return Outcome(f"reusing run {done.id}: data, model and settings unchanged",
                               skipped=True)
        earlier = None if new else self.ledger.find(key, RUNNING, FAILED)
        if earlier is not None and earlier.exit_code == 3:
            earlier = None       # bad data: a retry of the same inputs cannot succeed
        run = earlier or Run(id=RunStore(self.ledger.root).new_id(), fingerprint=key,
                             status=RUNNING, created=time.time(),
                             base_model=self.cfg.model.id, method=self.cfg.training.method,
                             inputs={"data": self.cfg.data.uri, "model_revision": self._model_rev,
                                     "settings": self.cfg.training.model_dump()})
        self.runs_.launch(run)
        self._run = run
        self.state.update(run_id=run.id)
        if run.status == SUCCEEDED:  # its Job had already succeeded (launch settled it)
            return Outcome(f"run {run.id} had already succeeded", skipped=True)
        return self.runs_.follow(run, detach=detach)

    # --- serving, teardown, status (kit.targets.cluster_serving, _teardown, _status) -----

    def _phase_serve(self) -> Outcome:
        assert self._run is not None
        return self.server.roll_out(self._run.id)

    def _phase_smoke(self) -> Outcome:
        return self.server.smoke()

    def endpoint(self) -> tuple[str, str | None]:
        return self.server.endpoint()

    def down(self, console: Console, *, purge: bool) -> list[str]:
        """Workloads first (load balancers waited for), then the stack; then the leak report."""
        from kit.targets.cluster_teardown import tear_down

        self._use(console)
        return tear_down(self.cfg, self.state, console, purge=purge,
                         releases=[self.job_name, self.server.name], kube=self.kube,
                         infra=self._infra_factory, tagging=self._tagging)

    def status(self) -> dict[str, Any]:
        return self.status_.status()

    def runs(self) -> list[dict[str, Any]]:
        return self.status_.runs()

    def log_lines(self, run_id: str | None, *, server: bool, follow: bool) -> Iterator[str]:
        return self.status_.log_lines(run_id, server=server, follow=follow)
