"""Cluster targets: an existing cluster (`kubernetes`) or one a cloud stack creates.

Pulumi owns the infrastructure and the cluster layer (kit.infra). The kit itself applies each
run's workloads, rendered from charts/ (kit.render), with server-side apply: a Job runs for
days and is deleted by its TTL, which a Pulumi resource (awaited for 10 minutes, recreated on
refresh) cannot model. `kit down` deletes those workloads first, load balancers waited for,
then destroys the stack and asks the target's CloudSupport what is still tagged with it.

Serving (kit.cluster.serving), `kit down` (teardown), `kit status`/`runs`/`logs` (status) and
the fine-tune runs (runs) live beside this module; ClusterTarget runs the phases and hands
the rest to them. Everything it talks to comes in one bundle (kit.cluster.deps). File names
under the workdir: kit.workdir.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any, Iterator

from rich.console import Console
from rich.markup import escape

from kit.cluster.deps import ClusterDeps
from kit.cluster.runs import FineTunes
from kit.cluster.serving import Server
from kit.cluster.status import ClusterStatus
from kit.config import KitConfig
from kit.deploy_lock import deployment_lock
from kit.errors import KitError
from kit.estimate.actual import planned
from kit.gate import check_held_out, check_servable, enforce, judge
from kit.jsonio import write_json
from kit.pipeline import DeploymentState, Outcome, run_fingerprint, run_phases
from kit.runs import FAILED, REJECTED, RUNNING, SUCCEEDED, Run, RunStore
from kit.serving.client import Endpoint
from kit.trainer.events import EXIT_BAD_DATA
from kit.workdir import write_private


class ClusterTarget:
    """A deployment on a Kubernetes cluster: the phases of `kit up`, `kit train`, `kit serve`."""

    def __init__(self, cfg: KitConfig, deps: ClusterDeps) -> None:
        self.cfg = cfg
        self.deps = deps
        self.workdir = cfg.workdir
        self.state = DeploymentState(self.workdir.state)
        self.store = RunStore(self.workdir.runs)
        self.console = Console()
        self.runs_ = FineTunes(cfg, self.store, self.kube, self.cluster, self.console,
                               storage=deps.storage)
        self.server = Server(cfg, self.state, self.kube, self.cluster, self.console)
        self.status_ = ClusterStatus(cfg, self.state, self.runs_, self.server, self.kube,
                                     self.cluster)
        self._kube: Any = None
        self._data_id = ""
        self._model_rev = cfg.model.revision
        self._tokens: int | None = None
        self._run: Run | None = None

    def _use(self, console: Console) -> None:
        self.console = self.runs_.console = self.server.console = console

    def kube(self) -> Any:
        if self._kube is None:
            self._kube = self.deps.connect()
        return self._kube

    def cluster(self):
        """The stack's outputs as `kit up` saved them (kit.render.cluster_for)."""
        from kit.render import cluster_for

        if not self.workdir.cluster_outputs.exists():
            raise KitError(f"{self.cfg.name}: no infrastructure yet", hint="run `kit up`")
        return cluster_for(self.cfg)

    # --- kit up ------------------------------------------------------------------------

    def preflight(self, console: Console) -> None:
        from kit.cluster.preflight import require_ok

        console.print("[bold cyan]▸ preflight[/]")
        started = time.monotonic()
        results = self.deps.checks(self.cfg)
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

    def serve(self, console: Console, run_id: str, *, force: bool = False) -> dict[str, Any]:
        """Roll the server to a chosen run (`kit serve --run ID`, also a rollback)."""
        self._use(console)
        run = self.runs_.settle(self.store.get(run_id))
        judge(self.cfg, run)        # the gate as kit.yaml says now
        self.store.save(run)
        check_servable(run, force=force)
        self._run = run
        with deployment_lock(self.workdir, "serve"):
            run_phases([("serve", self._phase_serve), ("smoke", self._phase_smoke)], self.state, console)
        return {"run_id": run.id, "endpoint": self.state.load().get("endpoint")}

    def _phase_infra(self) -> Outcome:
        infra = self.deps.infra(self.console)
        outputs, changes = infra.up()
        data = asdict(outputs)
        kubeconfig = data.pop("kubeconfig", "")
        write_json(self.workdir.cluster_outputs, data)
        if kubeconfig:
            write_private(self.workdir.kubeconfig, kubeconfig if isinstance(kubeconfig, str)
                          else json.dumps(kubeconfig))
        self._kube = None
        what = ", ".join(f"{n} {op}" for op, n in sorted(changes.items())) or "no changes"
        return Outcome(f"stack {self.cfg.name}: {what} [dim]({escape(outputs.cluster_name)})[/]",
                       skipped=not changes)

    def _phase_mirror(self) -> Outcome:
        from kit.data import storage
        from kit.data.storage import bucket_scheme
        from kit.images import mirror_join, resolve
        from kit.render.values import base_model_uri

        cluster = self.cluster()
        self._publish_own_images(cluster)
        self._copy_upstream_images(cluster)
        resolve(self.workdir, ["kit", "trainer", "proxy", self.cfg.serving.engine],
                registry_prefix=cluster.registry_prefix, join=mirror_join(self.cfg))
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

    def _publish_own_images(self, cluster) -> None:
        """The kit's own images with no digest in the lock yet: build and push them into the
        stack's registry now, so a first `kit up` needs nothing published anywhere."""
        from kit.images import KIT_IMAGES, built_for_another_version, current_lock

        lock = current_lock(self.workdir)
        missing = [n for n in KIT_IMAGES if n not in lock or built_for_another_version(lock[n])]
        if not missing:
            return
        if not cluster.registry_prefix:
            raise KitError(f"images lock: no digest for {', '.join(missing)}, and this cluster "
                           "has no registry of the kit's own to push them to",
                           hint=f"kit images build {' '.join(missing)} && kit images push "
                                f"{' '.join(missing)} --registry HOST/PREFIX")
        credentials = self.deps.support.registry_login(self.cfg, cluster.registry_prefix)
        self.deps.publish(self.workdir, cluster.registry_prefix, missing,
                          log=lambda line: self.console.print(line, markup=False, highlight=False),
                          credentials=credentials)

    def _copy_upstream_images(self, cluster) -> None:
        """Locked images no pull-through cache serves (the NVIDIA device plugin, nvcr.io only;
        on a cloud that copies every upstream, CloudSupport.copies_upstreams, the charts'
        images too): copied into the stack's registry, digest kept, before anything needs them."""
        from kit.images import COPIED, IMAGES, resolve, through_mirror
        from kit.images.copy import copy_tag

        support = self.deps.support
        if not cluster.registry_prefix:
            return
        wanted = list(support.stack_images)
        if support.copies_upstreams:
            wanted += ["proxy", self.cfg.serving.engine]
        if not wanted:
            return
        for name, ref in resolve(self.workdir, wanted).items():
            repository = ref.split("@", 1)[0]
            if repository not in COPIED and not support.copies_upstreams:
                continue
            dest = through_mirror(ref, cluster.registry_prefix).split("@", 1)[0]
            credentials = support.registry_login(self.cfg, cluster.registry_prefix)
            copied = self.deps.copy(ref, dest, copy_tag(IMAGES[name].tag, ref), credentials=credentials)
            self.console.print(f"  {name}: " + (f"copied {ref} → {dest}" if copied else
                                               f"{dest} already holds the locked digest"),
                               markup=False, highlight=False)

    def _phase_data(self) -> Outcome:
        from kit.data.fingerprint import dataset_fingerprint
        from kit.data.validate import phi_lines, validate
        from kit.render.values import data_uri

        checked = {}
        for key, uri in (("data.uri", data_uri(self.cfg)),
                         *((("eval.uri", data_uri(self.cfg, self.cfg.eval.uri, "eval.uri")),)
                           if self.cfg.eval.uri else ())):
            report = validate(uri, max_length=self.cfg.training.max_length, phi=self.cfg.data.phi)
            if not report.ok:
                more = f" (+{len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
                raise KitError(f"{key}: {report.errors[0]}{more}",
                               hint=f"see all problems: kit data validate {uri}")
            for line in phi_lines(report):  # data.phi: warn: what was kept, by kind and place
                self.console.print(f"  ! {line}", markup=False, highlight=False, soft_wrap=True)
            checked[key] = (uri, report, dataset_fingerprint(uri))
        uri, report, self._data_id = checked["data.uri"]
        held = ""
        if "eval.uri" in checked:   # the held-out set changes what is trained on: part of the key
            self._data_id += "+eval:" + checked["eval.uri"][2]
            held = f", {checked['eval.uri'][1].examples} held out"
        check_held_out(self.cfg, report.examples)
        self._tokens = report.stats.get("train_tokens_per_epoch")
        warn = f", {len(report.warnings)} warning(s)" if report.warnings else ""
        return Outcome(f"{report.examples} examples valid{held}{warn} [dim]({escape(uri)})[/]")

    # --- fine-tune -----------------------------------------------------------------------

    def _fingerprint(self) -> str:
        from kit.images import resolve

        image = resolve(self.workdir, ["trainer"])["trainer"]
        return run_fingerprint(self.cfg, data=self._data_id, model_revision=self._model_rev,
                               place={"gpu": self.cfg.gpu.model_dump(), "image": image})

    def _phase_finetune(self, *, detach: bool, new: bool = False) -> Outcome:
        key = self._fingerprint()
        self.runs_.settle_all()  # a detached run may have ended since: record how first
        if not new:
            done = self.store.find(key, SUCCEEDED, REJECTED)
            if done is not None:
                judge(self.cfg, done)      # eval: may have changed since it was judged
                self.store.save(done)
                self._run = done
                self.state.update(run_id=done.id)
                enforce(self.cfg, done, self.state.load().get("served_run"))
                return Outcome(f"reusing run {done.id}: data, model and settings unchanged",
                               skipped=True)
        earlier = None if new else self.store.find(key, RUNNING, FAILED)
        if earlier is not None and earlier.exit_code == EXIT_BAD_DATA:
            earlier = None       # bad data: a retry of the same inputs cannot succeed
        run = earlier or Run(id=self.store.new_id(), fingerprint=key,
                             status=RUNNING, created=time.time(),
                             base_model=self.cfg.model.id, method=self.cfg.training.method,
                             inputs={"data": self.cfg.data.uri, "model_revision": self._model_rev,
                                     "settings": self.cfg.training.model_dump()},
                             estimate=planned(self.cfg, self._tokens))
        self.runs_.launch(run)
        self._run = run
        self.state.update(run_id=run.id)
        if run.status == SUCCEEDED:  # its Job had already succeeded (launch settled it)
            outcome = Outcome(f"run {run.id} had already succeeded", skipped=True)
        else:
            outcome = self.runs_.follow(run, detach=detach)
        judge(self.cfg, run)
        self.store.save(run)
        enforce(self.cfg, run, self.state.load().get("served_run"))
        return outcome

    # --- serving, teardown, status (kit.cluster.serving, _teardown, _status) -----

    def _phase_serve(self) -> Outcome:
        assert self._run is not None
        return self.server.roll_out(self._run.id)

    def _phase_smoke(self) -> Outcome:
        return self.server.smoke()

    def endpoint(self) -> Endpoint:
        return self.server.endpoint()

    def run_artifacts(self, run_id: str) -> str:
        from kit.render.values import run_uri

        return run_uri(self.cluster(), run_id)

    def down(self, console: Console, *, purge: bool) -> list[str]:
        """Workloads first (load balancers waited for), then the stack; then the leak report."""
        from kit.cluster.teardown import tear_down

        self._use(console)
        return tear_down(self.cfg, self.state, console, purge=purge,
                         releases=[self.runs_.job_name, self.server.name, self.server.stage_name],
                         kube=self.kube,
                         deps=self.deps)

    def status(self) -> dict[str, Any]:
        return self.status_.status()

    def runs(self) -> list[dict[str, Any]]:
        return self.status_.runs()

    def log_lines(self, run_id: str | None, *, server: bool, follow: bool,
                  raw: bool = False) -> Iterator[str]:
        return self.status_.log_lines(run_id, server=server, follow=follow, raw=raw)
