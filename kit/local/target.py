"""Target `local`: one machine, no cloud. Fine-tune in a subprocess, serve on 127.0.0.1.

The kit's files live in `<kit.yaml folder>/.kit/<name>/` (kit.workdir names them); staged base
models are shared by deployments of the same folder. The customer's data is only read.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from rich.console import Console
from rich.markup import escape

from kit import __version__
from kit.config import KitConfig
from kit.deploy_lock import deployment_lock
from kit.errors import KitError
from kit.estimate.actual import planned, settle
from kit.gate import check_held_out, check_servable, enforce, judge
from kit.local.server import LocalServer
from kit.pipeline import DeploymentState, Outcome, run_fingerprint, run_phases
from kit.runs import FAILED, INTERRUPTED, REJECTED, SUCCEEDED, Run, RunStore
from kit.trainer.events import EXIT_BAD_DATA

if TYPE_CHECKING:
    from kit.serving.client import Endpoint

HEALTH_TIMEOUT_S = 300.0


class LocalTarget:
    def __init__(self, cfg: KitConfig) -> None:
        self.cfg = cfg
        self.workdir = cfg.workdir
        self.store = RunStore(self.workdir.runs)
        self.server = LocalServer(self.workdir.server)
        self.state = DeploymentState(self.workdir.state)
        self._data_path: Path | None = None
        self._eval_path: Path | None = None     # eval.uri, staged
        self._data_id = ""
        self._model = None
        self._tokens: int | None = None
        self._run: Run | None = None
        self._console = Console()

    # --- kit up ------------------------------------------------------------------------

    def up(self, console: Console, *, detach: bool = False) -> dict[str, Any]:
        if detach:
            raise KitError("--detach: the local target trains in the foreground",
                           hint="run it in a terminal multiplexer, or use a cluster target")
        # Every serve precondition (engine, port) before the fine-tune, not after it.
        self.server.preflight(self.cfg.serving.engine, self.cfg.serving.port)
        self._console = console
        with deployment_lock(self.workdir, "up"):
            return self._up(console)

    def _up(self, console: Console) -> dict[str, Any]:
        phases = [("data", self._phase_data), ("model", self._phase_model),
                  ("fine-tune", self._phase_finetune), ("serve", self._phase_serve),
                  ("smoke", self._phase_smoke)]
        run_phases(phases, self.state, console)
        return self.status()

    def _stage_data(self, uri: str, key: str) -> tuple[Path, Any]:
        """A local, validated copy of a dataset (a bucket is synced beside the runs)."""
        from kit.data.validate import phi_lines, validate

        local = self.cfg.resolve_path(uri)
        if local is None:  # a bucket: stage a verified copy beside the runs
            from kit.data.sync import sync

            local = self.workdir.staged_data(uri)
            sync(uri, str(local))
        if not local.exists():
            raise KitError(f"{key}: {uri}: no such file or folder ({local})",
                           hint=f"point {key} at your JSONL/CSV/Parquet file or folder")
        report = validate(str(local), max_length=self.cfg.training.max_length, phi=self.cfg.data.phi)
        if not report.ok:
            first = report.errors[0]
            more = f" (+{len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
            raise KitError(f"{key}: {first}{more}", hint=f"see all problems: kit data validate {local}")
        for line in phi_lines(report):  # data.phi: warn: what was kept, by kind and place
            self._console.print(f"  ! {line}", markup=False, highlight=False, soft_wrap=True)
        return local, report

    def _phase_data(self) -> Outcome:
        from kit.data.fingerprint import dataset_fingerprint

        local, report = self._stage_data(self.cfg.data.uri, "data.uri")
        self._data_path, self._data_id = local, dataset_fingerprint(str(local))
        held = ""
        if self.cfg.eval.uri:   # the held-out set changes what is trained on: part of the run's key
            self._eval_path, held_report = self._stage_data(self.cfg.eval.uri, "eval.uri")
            self._data_id += "+eval:" + dataset_fingerprint(str(self._eval_path))
            held = f", {held_report.examples} held out"
        check_held_out(self.cfg, report.examples)
        self._tokens = report.stats.get("train_tokens_per_epoch")
        warn = f", {len(report.warnings)} warning(s)" if report.warnings else ""
        return Outcome(f"{report.examples} examples valid{held}{warn} [dim]({escape(str(local))})[/]")

    def _phase_model(self) -> Outcome:
        from kit.local.model_store import stage

        self._model = stage(self.cfg)
        return Outcome(f"{self._model.label} [dim]({escape(str(self._model.path))})[/]")

    def _phase_finetune(self, *, new: bool = False) -> Outcome:
        from kit.local.trainer_process import run_trainer
        from kit.trainer.recipe import resolve

        assert self._model is not None and self._data_path is not None
        settings = resolve(self.cfg.training.model_dump())
        key = run_fingerprint(self.cfg, data=self._data_id, model_revision=self._model.revision)
        done = None if new else self.store.find(key, SUCCEEDED, REJECTED)
        if done is not None:
            judge(self.cfg, done)          # eval: may have changed since it was judged
            self.store.save(done)
            self._run = done
            self.state.update(run_id=done.id)
            enforce(self.cfg, done, self._serving())
            return Outcome(f"reusing run {done.id}: data, model and settings unchanged",
                           skipped=True)
        run = (None if new else self._resumable(key)) or Run(
            id=self.store.new_id(), fingerprint=key, status="running", created=time.time(),
            base_model=self.cfg.model.id, method=settings.get("method", self.cfg.training.method),
            inputs={"data": self.cfg.data.uri, "model_revision": self._model.revision,
                    "settings": settings, "kit_version": __version__},
            estimate=planned(self.cfg, self._tokens))
        spec = {"run_id": run.id, "base_model": str(self._model.path),
                "data": str(self._data_path), "output": str(self.store.dir(run.id)),
                "training": self.cfg.training.model_dump(), "upload_uri": None,
                "eval": self.cfg.eval.trainer_options(),
                "eval_data": str(self._eval_path) if self._eval_path else None}
        self._run = run_trainer(self.store, run, spec, self._console)
        settle(self.cfg, run)
        judge(self.cfg, run)
        self.store.save(run)
        self.state.update(run_id=run.id)
        enforce(self.cfg, run, self._serving())
        m = run.metrics
        loss = (f": loss {m['loss_first']:.3f} → {m['loss_last']:.3f}"
                if isinstance(m.get("loss_first"), (int, float)) and
                isinstance(m.get("loss_last"), (int, float)) else "")
        return Outcome(f"run {run.id} succeeded{loss}")

    def _serving(self) -> str | None:
        info = self.server.info()
        return info.run_id if info else None

    def _resumable(self, key: str) -> Run | None:
        """An earlier attempt at the same work that stopped: continue it (same id, its checkpoints)."""
        for run in self.store.list():
            if run.fingerprint == key and run.status in (INTERRUPTED, FAILED) and \
                    run.exit_code != EXIT_BAD_DATA and (self.store.dir(run.id) / "checkpoints").is_dir():
                return run
        return None

    # --- kit train, kit serve --run --------------------------------------------------------

    def train(self, console: Console, *, detach: bool = False) -> Run:
        """A new fine-tune run, even if one with the same inputs succeeded (`kit train`)."""
        if detach:
            raise KitError("--detach: the local target trains in the foreground",
                           hint="run it in a terminal multiplexer, or use a cluster target")
        self._console = console
        with deployment_lock(self.workdir, "train"):
            run_phases([("data", self._phase_data), ("model", self._phase_model),
                        ("fine-tune", lambda: self._phase_finetune(new=True))], self.state, console)
        assert self._run is not None
        return self._run

    def serve(self, console: Console, run_id: str, *, force: bool = False) -> dict[str, Any]:
        """Serve a chosen run (`kit serve --run ID`, also a rollback), then smoke-test it."""
        run = self.store.get(run_id)
        judge(self.cfg, run)        # the gate as kit.yaml says now
        self.store.save(run)
        check_servable(run, force=force)
        self.server.preflight(self.cfg.serving.engine, self.cfg.serving.port)
        self._run, self._console = run, console
        with deployment_lock(self.workdir, "serve"):
            run_phases([("serve", self._phase_serve), ("smoke", self._phase_smoke)], self.state,
                       console)
        return {"run_id": run.id, "endpoint": self.state.load().get("endpoint")}

    def _phase_serve(self) -> Outcome:
        from kit.local.trainer_process import model_dir
        from kit.serving.client import Endpoint, is_healthy, wait_healthy

        assert self._run is not None
        current = self.server.info()
        if current and current.run_id == self._run.id and current.port == self.cfg.serving.port \
                and current.max_new_tokens == self.cfg.serving.max_new_tokens \
                and is_healthy(Endpoint(current.endpoint)):
            return Outcome(f"already serving {current.run_id} at {current.endpoint}", skipped=True)
        if current:
            self.server.stop()
        info = self.server.start(model_dir(self.store, self._run), self._run.id,
                                 self.cfg.serving.port, self.cfg.name,
                                 self.cfg.serving.max_new_tokens)
        try:
            wait_healthy(Endpoint(info.endpoint), HEALTH_TIMEOUT_S,
                         still_running=lambda: self.server.info() is not None)
        except KitError:
            self.server.stop()
            raise
        self.state.update(endpoint=info.endpoint)
        return Outcome(f"transformers serve on {info.endpoint} (pid {info.pid}, loopback only)")

    def _phase_smoke(self) -> Outcome:
        from kit.serving.smoke import smoke_test

        result = smoke_test(self.endpoint(), self.cfg.serving.smoke_prompt,
                            system=self.cfg.serving.system_prompt)
        return Outcome(f"chat round trip ok in {result.latency_s:.1f}s: {result.shown}")

    # --- the rest of the CLI -----------------------------------------------------------

    def down(self, console: Console, *, purge: bool) -> list[str]:
        with deployment_lock(self.workdir, "down"):
            if purge:
                self._check_purge()
            done = self._down()
            if purge:
                done += self._purge()
        return done

    def _check_purge(self) -> None:
        """The customer's data is only read: a purge that would delete data.uri or eval.uri
        (kept under .kit/) refuses before anything is stopped or removed."""
        doomed = [self.workdir.root, self.workdir.models]
        for key, uri in (("data.uri", self.cfg.data.uri), ("eval.uri", self.cfg.eval.uri)):
            path = self.cfg.resolve_path(uri) if uri else None
            if path is None:
                continue
            path = path.resolve()
            for folder in doomed:
                if path.is_relative_to(folder.resolve()):
                    raise KitError(f"{key}: {uri} lies in {folder}, which --purge deletes",
                                   hint="move the data out of .kit/ and point " + key +
                                        " at it, then purge")

    def _purge(self) -> list[str]:
        """Delete this deployment's folder; the shared model store only if no other
        deployment in the same .kit/ still uses it. Runs under the deployment lock."""
        done = []
        shutil.rmtree(self.workdir.root)
        done.append(f"removed {self.workdir}")
        others = self.workdir.other_deployments()
        models = self.workdir.models
        if models.is_dir() and not others:
            shutil.rmtree(models)
            done.append(f"removed {models}")
        elif models.is_dir():
            done.append(f"kept {models}: shared with {', '.join(others)}")
        return done

    def _down(self) -> list[str]:
        done = []
        if self.server.stop():
            done.append("stopped the local server; its port is free")
        self.state.update(endpoint=None)
        for phase in ("serve", "smoke"):        # nothing serves: neither holds any more
            self.state.set_phase(phase, "stopped", "kit down")
        return done

    def status(self) -> dict[str, Any]:
        from kit.serving.client import Endpoint, is_healthy

        state = self.state.load()
        info = self.server.info()
        endpoint = info.endpoint if info else None
        latest = self.store.latest_succeeded()
        return {
            "name": self.cfg.name, "target": "local",
            "endpoint": endpoint, "served_model": self.cfg.name,
            "healthy": bool(endpoint and is_healthy(Endpoint(endpoint))),
            "run_id": info.run_id if info else state.get("run_id") or (latest.id if latest else None),
            "serving_run": info.run_id if info else None,
            "server": {"pid": info.pid, "port": info.port, "model": info.model_dir} if info else None,
            "phases": state.get("phases", {}),
            "workdir": str(self.workdir),
        }

    def runs(self) -> list[dict[str, Any]]:
        return [run.to_dict(self.store.root) for run in self.store.list()]

    def run_artifacts(self, run_id: str) -> str:
        return self.store.dir(run_id).resolve().as_uri() + "/"

    def endpoint(self) -> Endpoint:
        """Plain HTTP: the server listens on 127.0.0.1 only, so nothing crosses a network."""
        from kit.serving.client import Endpoint

        info = self.server.info()
        if info is None:
            raise KitError(f"{self.cfg.name} is not serving", hint="start it with `kit up`")
        return Endpoint(info.endpoint)

    def log_lines(self, run_id: str | None, *, server: bool, follow: bool,
                  raw: bool = False) -> Iterator[str]:
        from kit.logview import tail

        if not server:
            from kit.local.trainer_process import log_lines

            yield from log_lines(self.store, run_id, follow=follow, raw=raw)
            return
        if not self.server.log.exists():
            raise KitError(f"no log yet at {self.server.log}")
        yield from tail(self.server.log, follow=follow, alive=lambda: self.server.info() is not None)
