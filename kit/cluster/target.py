"""Cluster targets: an existing cluster (`kubernetes`) or one a cloud stack creates.

Pulumi owns the infrastructure and the cluster layer (kit.infra). The kit itself applies each
run's workloads, rendered from charts/ (kit.render), with server-side apply: a Job runs for
days and is deleted by its TTL, which a Pulumi resource (awaited for 10 minutes, recreated on
refresh) cannot model. `kit down` deletes those workloads first, load balancers waited for,
then destroys the stack and asks the target's CloudSupport what is still tagged with it.

Serving (kit.cluster.serving), `kit down` (teardown), `kit status`/`runs`/`logs` (status) and
the fine-tune Job (finetune_jobs) live beside this module; the pipeline (kit.pipeline.flow)
runs the phases and calls ClusterTarget's primitives, which hand the work to them. Everything
it talks to comes in one bundle (kit.cluster.deps). File names under the workdir: kit.workdir.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.markup import escape

from kit.cluster.deps import ClusterDeps
from kit.cluster.finetune_jobs import FineTuneJobs
from kit.cluster.serving import Server
from kit.cluster.status import ClusterStatus
from kit.config import KitConfig
from kit.errors import KitError
from kit.jsonio import write_json
from kit.pipeline.flow import Pipeline
from kit.pipeline.inputs import BaseModel, Dataset
from kit.pipeline.ledger import SUCCEEDED, Run, RunStore
from kit.pipeline.phases import DeploymentState, Outcome
from kit.serving.client import Endpoint
from kit.workdir import write_private


class ClusterTarget:
    """A deployment on a Kubernetes cluster: the CLI's Target, and the primitives the pipeline
    (kit.pipeline.flow) calls for `kit up`, `kit train` and `kit serve`."""

    model_phase = "mirror"      # the kit's images with the weights: both before anything runs
    model_first = True

    def __init__(self, cfg: KitConfig, deps: ClusterDeps) -> None:
        self.cfg = cfg
        self.deps = deps
        self.workdir = cfg.workdir
        self.state = DeploymentState(self.workdir.state)
        self.store = RunStore(self.workdir.runs)
        self.console = Console()
        self.jobs = FineTuneJobs(cfg, self.store, self.kube, self.cluster, self.console,
                                 storage=deps.storage)
        self.server = Server(cfg, self.state, self.kube, self.cluster, self.console)
        self.status_ = ClusterStatus(cfg, self.state, self.jobs, self.server, self.kube,
                                     self.cluster)
        self._kube: Any = None      # the API client, connected on first use

    def _use(self, console: Console) -> Pipeline:
        self.console = self.jobs.console = self.server.console = console
        return Pipeline(self.cfg, self, console)

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
        pipeline = self._use(console)
        self.preflight(console)
        run = pipeline.up(detach=detach)
        return {"run_id": run.id, "endpoint": None if detach else self.state.load().get("endpoint")}

    def train(self, console: Console, *, detach: bool = False) -> Run:
        """A new fine-tune run on the existing infrastructure (`kit train`)."""
        pipeline = self._use(console)
        self.cluster()
        return pipeline.train(detach=detach)

    def serve(self, console: Console, run_id: str, *, force: bool = False) -> dict[str, Any]:
        """Roll the server to a chosen run (`kit serve --run ID`, also a rollback)."""
        run = self._use(console).serve(run_id, force=force)
        return {"run_id": run.id, "endpoint": self.state.load().get("endpoint")}

    # --- the pipeline's primitives (kit.pipeline.flow.Primitives) ---------------------------

    def setup_phases(self) -> list[tuple[str, Callable[[], Outcome]]]:
        return [("infra", self._phase_infra)]

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

    def stage_model(self) -> BaseModel:
        """The kit's images into the stack's registry, then the base weights into its models
        bucket at the requested revision, resolved to the commit the mirror recorded (skipped
        when that revision is already there): what `kit up` and `kit train` both key runs on."""
        from kit.data import storage
        from kit.data.storage import bucket_scheme
        from kit.images import mirror_join, resolve
        from kit.render.values import base_model_uri

        cluster = self.cluster()
        self._publish_own_images(cluster)
        self._copy_upstream_images(cluster)
        resolve(self.workdir, ["kit", "trainer", "proxy", self.cfg.serving.engine],
                registry_prefix=cluster.registry_prefix, join=mirror_join(self.cfg))
        model, wanted = self.cfg.model.id, self.cfg.model.revision
        dest = base_model_uri(self.cfg, cluster)
        if bucket_scheme(model):
            return BaseModel(wanted, dest, Outcome(f"weights are read from {model}", skipped=True))
        manifest = storage.read_manifest(self.deps.storage(dest))  # owners bound by the deps
        meta = manifest.meta if manifest else {}
        if wanted in (meta.get("requested_revision"), meta.get("revision")):
            revision = meta.get("revision") or wanted
            return BaseModel(revision, dest, Outcome(f"{model}@{revision} already in {dest}",
                                                     skipped=True))
        from kit.cluster.deps import deployment_owners
        from kit.data.mirror import mirror

        result = mirror(model, dest, revision=wanted, owners=deployment_owners(self.cfg))
        revision = (result.manifest.meta.get("revision") if result.manifest else None) or wanted
        return BaseModel(revision, dest, Outcome(f"{model}@{revision} → {dest}: "
                                                 f"{result.transferred} uploaded, "
                                                 f"{result.skipped} unchanged"))

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
            dest = through_mirror(ref, cluster.registry_prefix, support.mirror_join).split("@", 1)[0]
            credentials = support.registry_login(self.cfg, cluster.registry_prefix)
            copied = self.deps.copy(ref, dest, copy_tag(IMAGES[name].tag, ref), credentials=credentials)
            self.console.print(f"  {name}: " + (f"copied {ref} → {dest}" if copied else
                                               f"{dest} already holds the locked digest"),
                               markup=False, highlight=False)

    def stage_data(self, uri: str, key: str) -> str:
        """The dataset's bucket URI, read in place by the cluster (and by validation here)."""
        from kit.render.values import data_uri

        return data_uri(self.cfg, uri, key)

    def place(self) -> dict[str, Any]:
        """The GPU shape and the trainer image (by digest): a run elsewhere is other work."""
        from kit.images import resolve

        image = resolve(self.workdir, ["trainer"])["trainer"]
        return {"gpu": self.cfg.gpu.model_dump(), "image": image}

    def reconcile(self, run: Run) -> Run:
        return self.jobs.reconcile(run)

    def can_resume(self, run: Run) -> bool:
        """Always: a run still training is followed again, a stopped one restarts its Job,
        which resumes from the checkpoints it uploaded."""
        return True

    def fine_tune(self, run: Run, data: Dataset, model: BaseModel, *, detach: bool) -> Outcome:
        """The run's Job reads data and weights as rendered from kit.yaml (kit.render)."""
        self.jobs.launch(run)
        if run.status == SUCCEEDED:  # its Job had already succeeded (launch recorded it)
            return Outcome(f"run {run.id} had already succeeded", skipped=True)
        return self.jobs.follow(run, detach=detach)

    def serving(self) -> str | None:
        return self.state.load().get("served_run")

    def roll_out(self, run: Run) -> Outcome:
        return self.server.roll_out(run.id)

    def smoke(self) -> Outcome:
        return self.server.smoke()

    # --- serving, teardown, status (kit.cluster.serving, _teardown, _status) -----

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
                         releases=[self.jobs.job_name, self.server.name, self.server.stage_name],
                         kube=self.kube,
                         deps=self.deps)

    def status(self) -> dict[str, Any]:
        return self.status_.status()

    def runs(self) -> list[dict[str, Any]]:
        return self.status_.runs()

    def log_lines(self, run_id: str | None, *, server: bool, follow: bool,
                  raw: bool = False) -> Iterator[str]:
        return self.status_.log_lines(run_id, server=server, follow=follow, raw=raw)
