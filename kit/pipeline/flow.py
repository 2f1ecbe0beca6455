"""The one pipeline of `kit up`, `kit train` and `kit serve`, for every target.

It owns what the targets used to do twice: the phase order, the run fingerprint, reuse of a
run that already did the same work, resume of one that stopped, the evaluation gate and the
run record. A target supplies only primitives (`Primitives`: stage data and model, fine-tune,
roll out, smoke, ...). Each phase returns its value (Dataset, BaseModel, Trained) to the next;
nothing passes through attributes, so `kit train` and `kit up` key a run on the same values:
both stage the base model and so resolve its revision the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

from rich.console import Console

from kit.deploy_lock import deployment_lock
from kit.pipeline.gate import check_servable, enforce, judge
from kit.pipeline.inputs import BaseModel, Dataset, check_data
from kit.pipeline.ledger import FAILED, INTERRUPTED, REJECTED, RUNNING, SUCCEEDED, Run, RunStore, run_fingerprint
from kit.pipeline.phases import DeploymentState, Outcome, Phases
from kit.trainer.events import EXIT_BAD_DATA

if TYPE_CHECKING:
    from kit.config import KitConfig

FINE_TUNE, SERVE, SMOKE = "fine-tune", "serve", "smoke"


@dataclass(frozen=True)
class Trained:
    """What the fine-tune phase returns: the run (reused, resumed or new) and its outcome."""
    run: Run
    outcome: Outcome


class Primitives(Protocol):
    """What a target does for the pipeline; the pipeline decides when and with what."""

    model_phase: str          # its name in `kit status`: "model" locally, "mirror" on a cluster
    model_first: bool         # staged before the data (a cluster mirrors images with it)

    def setup_phases(self) -> list[tuple[str, Callable[[], Outcome]]]:
        """Phases of `kit up` before any other (a cluster's infra); none locally."""

    def stage_data(self, uri: str, key: str) -> str:
        """Where the trainer reads the dataset at `uri` (kit.yaml's `key`): a local path (a
        bucket copied here first) or a bucket URI the cluster reads privately."""

    def stage_model(self) -> BaseModel:
        """The base model where the trainer reads it, at its resolved revision."""

    def place(self) -> dict[str, Any]:
        """Where runs train, as part of the run fingerprint ({} locally)."""

    def reconcile(self, run: Run) -> Run:
        """Bring a run's record up to date with what really ran (a cluster's Job)."""

    def can_resume(self, run: Run) -> bool:
        """Whether an earlier attempt that stopped can be continued under its own id."""

    def fine_tune(self, run: Run, data: Dataset, model: BaseModel, *, detach: bool) -> Outcome:
        """Train `run` (start it, or continue it) and follow it to its end, or with detach
        until it trains; record its status and metrics in the ledger; raise on failure."""

    def serving(self) -> str | None:
        """The id of the run the endpoint serves now, if any."""

    def roll_out(self, run: Run) -> Outcome:
        """Serve `run`'s model."""

    def smoke(self) -> Outcome:
        """One chat round trip through the endpoint."""


def record_end(cfg: "KitConfig", run: Run) -> None:
    """What the kit records of a run that ended, wherever it is noticed: a succeeded run's actual
    hours and cost (kit.estimate.actual), and the evaluation gate's verdict (kit.pipeline.gate.judge)."""
    from kit.estimate.actual import record_actual

    if run.status == SUCCEEDED:
        record_actual(cfg, run)
    judge(cfg, run)


def succeeded(run: Run) -> Outcome:
    """The fine-tune phase's line for a run that trained to its end, on every target."""
    m = run.metrics or {}
    first, last = m.get("loss_first"), m.get("loss_last")
    loss = (f": loss {first:.3f} → {last:.3f}"
            if isinstance(first, (int, float)) and isinstance(last, (int, float)) else "")
    return Outcome(f"run {run.id} succeeded{loss}")


class Pipeline:
    def __init__(self, cfg: "KitConfig", target: Primitives, console: Console) -> None:
        self.cfg = cfg
        self.target = target
        self.console = console
        self.state = DeploymentState(cfg.workdir.state)
        self.store = RunStore(cfg.workdir.runs)

    # --- the commands ----------------------------------------------------------------------

    def up(self, *, detach: bool = False) -> Run:
        """Every phase; an unchanged run is reused, a stopped one resumed."""
        with deployment_lock(self.cfg.workdir, "up"):
            setup = self.target.setup_phases()
            tail = [] if detach else [SERVE, SMOKE]
            phases = Phases([n for n, _ in setup] + self._input_names() + [FINE_TUNE] + tail,
                            self.state, self.console)
            for name, action in setup:
                phases.run(name, action)
            data, model = self._inputs(phases)
            trained = phases.run(FINE_TUNE, lambda: self._fine_tune(data, model, new=False,
                                                                    detach=detach))
            if not detach:
                self._serve(phases, trained.run)
        return trained.run

    def train(self, *, detach: bool = False) -> Run:
        """A new run with the current data and settings, even if one did the same work."""
        with deployment_lock(self.cfg.workdir, "train"):
            phases = Phases(self._input_names() + [FINE_TUNE], self.state, self.console)
            data, model = self._inputs(phases)
            trained = phases.run(FINE_TUNE, lambda: self._fine_tune(data, model, new=True,
                                                                    detach=detach))
        return trained.run

    def serve(self, run_id: str, *, force: bool = False) -> Run:
        """Serve a chosen run (also a rollback); a rejected one only with force."""
        run = self.target.reconcile(self.store.get(run_id))
        judge(self.cfg, run)        # the gate as kit.yaml says now
        self.store.save(run)
        check_servable(run, force=force)
        with deployment_lock(self.cfg.workdir, "serve"):
            self._serve(Phases([SERVE, SMOKE], self.state, self.console), run)
        return run

    # --- the phases ------------------------------------------------------------------------

    def _input_names(self) -> list[str]:
        data_then_model = ["data", self.target.model_phase]
        return data_then_model[::-1] if self.target.model_first else data_then_model

    def _inputs(self, phases: Phases) -> tuple[Dataset, BaseModel]:
        """The data and model phases, in the target's order; each returns its value."""
        def check() -> Dataset:
            return check_data(self.cfg, self.target.stage_data, self.console)

        if self.target.model_first:
            model = phases.run(self.target.model_phase, self.target.stage_model)
            data = phases.run("data", check)
        else:
            data = phases.run("data", check)
            model = phases.run(self.target.model_phase, self.target.stage_model)
        return data, model

    def _serve(self, phases: Phases, run: Run) -> None:
        phases.run(SERVE, lambda: self.target.roll_out(run))
        phases.run(SMOKE, self.target.smoke)

    def _fine_tune(self, data: Dataset, model: BaseModel, *, new: bool, detach: bool) -> Trained:
        key = run_fingerprint(self.cfg, data=data.id, model_revision=model.revision,
                              place=self.target.place())
        for run in self.store.list():   # a detached run may have ended since: record how first
            if run.status == RUNNING:
                self.target.reconcile(run)
        if not new:
            done = self.store.find(key, SUCCEEDED, REJECTED)
            if done is not None:
                judge(self.cfg, done)      # eval: may have changed since it was judged
                self.store.save(done)
                self.state.update(run_id=done.id)
                enforce(self.cfg, done, self.target.serving())
                return Trained(done, Outcome(f"reusing run {done.id}: data, model and settings "
                                             "unchanged", skipped=True))
        run = (None if new else self._resumable(key)) or self._new_run(key, data, model)
        self.state.update(run_id=run.id)
        outcome = self.target.fine_tune(run, data, model, detach=detach)
        record_end(self.cfg, run)
        self.store.save(run)
        enforce(self.cfg, run, self.target.serving())
        return Trained(run, outcome)

    def _resumable(self, key: str) -> Run | None:
        """The newest earlier attempt at the same work that stopped (or, detached, still
        trains): continued under its id, from its checkpoints. Never one that stopped on bad
        data: the same inputs cannot succeed."""
        for run in self.store.list():
            if run.fingerprint == key and run.status in (RUNNING, INTERRUPTED, FAILED) and \
                    run.exit_code != EXIT_BAD_DATA and self.target.can_resume(run):
                return run
        return None

    def _new_run(self, key: str, data: Dataset, model: BaseModel) -> Run:
        """The run record, the same on every target: the settings as the recipe resolves them,
        the base model's resolved revision, the kit's version, the estimate it starts with."""
        from kit import __version__
        from kit.estimate.actual import planned
        from kit.trainer.recipe import resolve

        settings = resolve(self.cfg.training.model_dump())
        return Run(id=self.store.new_id(), fingerprint=key, status=RUNNING, created=time.time(),
                   base_model=self.cfg.model.id, method=settings["method"],
                   inputs={"data": self.cfg.data.uri, "model_revision": model.revision,
                           "settings": settings, "kit_version": __version__},
                   estimate=planned(self.cfg, data.tokens_per_epoch))
