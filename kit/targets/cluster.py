"""Targets `kubernetes` (an existing cluster) and `aws` (the AWS stack, then the same platform).

Pulumi owns the infrastructure and the platform layer (kit.infra). The kit itself applies each
run's workloads, rendered from charts/ (kit.render), with server-side apply: a Job runs for
days and is deleted by its TTL, which a Pulumi resource (awaited for 10 minutes, recreated on
refresh) cannot model. `kit down` deletes those workloads first, load balancers waited for,
then destroys the stack and lists what is still tagged with it.

Files in <workdir> (.kit/<name>/): state.json (phases), cluster.json (stack outputs),
kubeconfig (0600, cloud stacks), cluster-runs/<id>.json (one record per fine-tune run).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import time
from dataclasses import asdict, fields
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.markup import escape

from kit.config import KitConfig
from kit.errors import KitError
from kit.jobwatch import JobWatch
from kit.jsonio import read_json, write_json
from kit.lock import deployment_lock
from kit.pipeline import DeploymentState, Outcome, fingerprint, run_phases
from kit.runs import FAILED, RUNNING, SUCCEEDED, Run
from kit.targets.cluster_runs import FineTunes, Ledger

UNSUPPORTED = ("gcp", "azure")
ROLLOUT_TIMEOUT_S = 2700.0       # staging weights + the engine's 30-minute startup window
PART_OF = "app.kubernetes.io/part-of"


def saved_kubeconfig(cfg: KitConfig) -> dict | None:
    path = cfg.workdir / "kubeconfig"
    return json.loads(path.read_text()) if path.exists() else None


def _ask(question: str) -> bool:
    import click

    return sys.stdin.isatty() and click.confirm(question, default=False)


class ClusterTarget:
    def __init__(self, cfg: KitConfig, *, infra: Callable[[Console], Any] | None = None,
                 connect: Callable[[], Any] | None = None,
                 checks: Callable[[KitConfig], list] | None = None,
                 tagging: Callable[[], Any] | None = None) -> None:
        if cfg.target in UNSUPPORTED:
            raise KitError(f"target: {cfg.target}: its infrastructure stack is not in this release",
                           hint="`kit render --out DIR` writes every Kubernetes object for any "
                                "cluster; on an existing GKE/AKS cluster use target: kubernetes")
        self.cfg = cfg
        self.workdir = cfg.workdir
        self.state = DeploymentState(self.workdir / "state.json")
        self.ledger = Ledger(self.workdir / "cluster-runs")
        self.job_name = f"{cfg.name}-finetune"
        self.server_name = f"{cfg.name}-server"
        self.console = Console()
        self.runs_ = FineTunes(cfg, self.ledger, self.kube, self.cluster, self.console)
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
        self.console = self.runs_.console = console

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
        run = earlier or Run(id=time.strftime("run-%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(2),
                             fingerprint=key, status=RUNNING, created=time.time(),
                             base_model=self.cfg.model.id, method=self.cfg.training.method,
                             inputs={"data": self.cfg.data.uri, "model_revision": self._model_rev,
                                     "settings": self.cfg.training.model_dump()})
        self.runs_.launch(run)
        self._run = run
        self.state.update(run_id=run.id)
        return self.runs_.follow(run, detach=detach)


    # --- serve and smoke -----------------------------------------------------------------

    def _api_keys(self) -> dict[str, str]:
        """The Secret of API keys the server's proxy reads: created once with a generated key."""
        from kit.render.values import api_keys_secret

        kube, name = self.kube(), api_keys_secret(self.cfg)
        keys = kube.secret_data(name)
        if not keys:
            kube.apply([{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                         "metadata": {"name": name, "namespace": kube.namespace,
                                      "labels": {PART_OF: "lima-kit",
                                                 "app.kubernetes.io/instance": self.server_name}},
                         "stringData": {"key-1": secrets.token_urlsafe(32)}}])
            keys = kube.secret_data(name) or {}
        return keys

    def _phase_serve(self) -> Outcome:
        from kit.k8s import wait_rollout
        from kit.render import render_objects

        assert self._run is not None
        kube = self.kube()
        self._api_keys()
        selector = f"app.kubernetes.io/instance={self.server_name}"
        current = kube.get("apps/v1", "Deployment", self.server_name)
        served = self.state.load().get("served_run")
        if current is not None and served == self._run.id and kube.ready_pod(selector):
            return Outcome(f"already serving {served}", skipped=True)
        objects = render_objects(self.cfg, self.cluster(), run_id=self._run.id)["server"]
        kube.apply(objects)
        self.console.print(f"  rolling {self.server_name} to run {self._run.id} "
                           f"({self.cfg.serving.engine}, {self.cfg.serving.replicas} replica(s))")
        wait_rollout(kube, self.server_name, selector, JobWatch(self.server_name),
                     timeout_s=ROLLOUT_TIMEOUT_S,
                     on_note=lambda text: self.console.print(f"  {escape(text)}"))
        endpoint = self._service_url()
        self.state.update(served_run=self._run.id, endpoint=endpoint)
        return Outcome(f"{self.cfg.serving.engine} serves run {self._run.id} at {endpoint}")

    def _service_url(self) -> str:
        """Where clients inside the network reach the server: the internal load balancer's
        address, else the Service's cluster DNS name."""
        svc = self.kube().get("v1", "Service", self.server_name) or {}
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        port = next((p.get("port") for p in (svc.get("spec") or {}).get("ports") or []), 80)
        host = (ingress[0].get("hostname") or ingress[0].get("ip")) if ingress else \
            f"{self.server_name}.{self.kube().namespace}.svc.cluster.local"
        return f"http://{host}" + ("" if port == 80 else f":{port}")

    def endpoint(self) -> tuple[str, str | None]:
        """A local URL forwarded to a ready server pod through the API server, and a key."""
        kube = self.kube()
        found = kube.ready_pod(f"app.kubernetes.io/instance={self.server_name}")
        if found is None:
            raise KitError(f"{self.cfg.name}: no server pod is ready", hint="see `kit status`")
        name, pod = found
        port = next((p["containerPort"] for c in pod["spec"]["containers"]
                     for p in c.get("ports") or [] if p.get("name") == "http"), 8080)
        url, _close = kube.port_forward(name, port)  # lives as long as this process
        keys = self._api_keys()
        return url, next(iter(keys.values()), None)

    def _phase_smoke(self) -> Outcome:
        from kit.serving.smoke import smoke_test

        url, key = self.endpoint()
        result = smoke_test(url, self.cfg.serving.smoke_prompt, api_key=key)
        reply = " ".join(result.reply.split())
        shown = (reply[:70] + "…") if len(reply) > 70 else reply
        return Outcome(f"chat round trip through the API server in {result.latency_s:.1f}s: {shown!r}"
                       if reply else "chat round trip ok [yellow](empty reply)[/]")

    # --- kit down ------------------------------------------------------------------------

    def down(self, console: Console, *, purge: bool) -> list[str]:
        """Workloads first (load balancers waited for), then the stack; then the leak report."""
        self._use(console)
        done: list[str] = []
        with deployment_lock(self.workdir, "down"):
            saved = read_json(self.workdir / "cluster.json")
            try:
                kube = self.kube()
                done += kube.delete_releases([self.job_name, self.server_name])
            except KitError as exc:
                if self.cfg.target == "kubernetes":
                    raise KitError(f"{exc.message}; nothing was destroyed", hint=exc.hint) from None
                console.print(f"  [yellow]cluster unreachable[/] ({escape(exc.message)}): its "
                              "workloads go with it; load balancers are in the report below")
            self.state.update(endpoint=None, served_run=None)
            done += self._infra_factory(console).destroy(purge=purge)
            for name in ("cluster.json", "kubeconfig"):
                (self.workdir / name).unlink(missing_ok=True)
            for phase in ("infra", "serve", "smoke"):
                self.state.set_phase(phase, "stopped", "kit down")
            if self.cfg.target == "aws":
                done += self._leaks(saved or {}, purge)
        if purge:
            shutil.rmtree(self.workdir, ignore_errors=True)
            done.append(f"removed {self.workdir}")
        return done

    def _leaks(self, saved: dict[str, Any], purge: bool) -> list[str]:
        from kit.infra import leak_report

        kept = [] if purge else [u[len("s3://"):].split("/")[0] for u in
                                 (saved.get("artifacts_uri"), saved.get("models_uri")) if u]
        try:
            return leak_report(self._tagging(), self.cfg.name,
                               saved.get("cluster_name") or self.cfg.name, kept)
        except Exception as exc:  # the report is advice; the teardown itself has succeeded
            return [f"[yellow]could not list leftovers[/]: {escape(str(exc))[:160]} (check: aws "
                    f"resourcegroupstaggingapi get-resources --tag-filters Key=lima-kit:stack,"
                    f"Values={self.cfg.name})"]

    # --- status, runs, logs ------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        state = self.state.load()
        info: dict[str, Any] = {
            "name": self.cfg.name, "target": self.cfg.target, "endpoint": state.get("endpoint"),
            "healthy": False, "run_id": state.get("served_run") or state.get("run_id"),
            "phases": state.get("phases", {}), "workdir": str(self.workdir),
            "cluster": None, "training": None}
        if read_json(self.workdir / "cluster.json") is None:
            return info
        try:
            kube = self.kube()
            info["cluster"] = kube.nodes()
            latest = next(iter(self.runs()), None)
            if latest:
                info["training"] = {"run_id": latest["id"], "status": latest["status"],
                                    **self._progress(latest)}
            info["healthy"] = self._healthy()
        except Exception as exc:  # status reports what it can; an unreachable API is a fact
            info["cluster"] = {"error": " ".join(str(getattr(exc, "message", exc)).split())[:200]}
        return info

    def _progress(self, run: dict[str, Any]) -> dict[str, Any]:
        if run["status"] != RUNNING:
            return {}
        from kit.jobwatch import TrainerLog

        log = TrainerLog()
        for line in self.kube().log_lines(self.runs_.pod_of(self.ledger.get(run["id"])), "trainer",
                                          follow=False, tail=200):
            log.feed(line)
        return {"step": log.step, "total": log.total, "loss": log.loss, "eta_s": log.eta_s}

    def _healthy(self) -> bool:
        from kit.serving.client import is_healthy

        try:
            url, _key = self.endpoint()
        except KitError:
            return False
        return is_healthy(url, timeout=5.0)

    def runs(self) -> list[dict[str, Any]]:
        from kit.render.values import MERGED_SUBDIR, run_uri

        out = []
        try:
            cluster = self.cluster()
        except KitError:
            cluster = None
        for run in self.ledger.list():
            run = self.runs_.settle(run) if cluster is not None else run
            where = run_uri(cluster, run.id) if cluster is not None else None
            out.append({**asdict(run), "artifacts": {
                "dir": where, "log": f"kit logs {run.id}",
                "model": where + MERGED_SUBDIR + "/" if where and run.status == SUCCEEDED else None}})
        return out

    def log_lines(self, run_id: str | None, *, server: bool, follow: bool) -> Iterator[str]:
        kube = self.kube()
        if server:
            pods = kube.list("v1", "Pod", labels=f"app.kubernetes.io/instance={self.server_name}")
            if not pods:
                raise KitError(f"{self.cfg.name}: no server pods", hint="see `kit status`")
            yield from kube.log_lines(pods[0]["metadata"]["name"], "engine", follow=follow)
            return
        runs = self.ledger.list()
        run = self.ledger.get(run_id) if run_id else (runs[0] if runs else None)
        if run is None:
            raise KitError("no runs yet", hint="start one with `kit up`")
        yield from kube.log_lines(self.runs_.pod_of(run), "trainer", follow=follow)
        self.runs_.settle(run)
