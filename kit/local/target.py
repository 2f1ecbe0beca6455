"""Target `local`: one machine, no cloud. Fine-tune in a subprocess, serve on 127.0.0.1.

The kit's files live in `<kit.yaml folder>/.kit/<name>/` (kit.workdir names them); staged base
models are shared by deployments of the same folder. The customer's data is only read.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any, Callable, Iterator

from rich.console import Console
from rich.markup import escape

from kit.config import KitConfig
from kit.deploy_lock import deployment_lock
from kit.errors import KitError
from kit.local.server import LocalServer
from kit.pipeline.flow import Pipeline, succeeded
from kit.pipeline.inputs import BaseModel, Dataset
from kit.pipeline.ledger import RUNNING, Run, RunStore
from kit.pipeline.phases import DeploymentState, Outcome

if TYPE_CHECKING:
    from kit.serving.client import Endpoint

HEALTH_TIMEOUT_S = 300.0


def no_detach() -> KitError:
    return KitError("--detach: the local target trains in the foreground",
                    hint="run it in a terminal multiplexer, or use a cluster target")


class LocalTarget:
    """The CLI's Target on one machine, and the primitives the pipeline (kit.pipeline.flow)
    calls: stage data and model here, train in a subprocess, serve on 127.0.0.1."""

    model_phase = "model"
    model_first = False

    def __init__(self, cfg: KitConfig) -> None:
        self.cfg = cfg
        self.workdir = cfg.workdir
        self.store = RunStore(self.workdir.runs)
        self.server = LocalServer(self.workdir.server)
        self.state = DeploymentState(self.workdir.state)
        self._console = Console()

    def _pipeline(self, console: Console) -> Pipeline:
        self._console = console
        return Pipeline(self.cfg, self, console)

    # --- kit up, kit train, kit serve --run (kit.pipeline.flow runs the phases) -------------

    def up(self, console: Console, *, detach: bool = False) -> dict[str, Any]:
        if detach:
            raise no_detach()
        # Every serve precondition (engine, port) before the fine-tune, not after it.
        self.server.preflight(self.cfg.serving.engine, self.cfg.serving.port)
        run = self._pipeline(console).up()
        return {"run_id": run.id, "endpoint": self.state.load().get("endpoint")}

    def train(self, console: Console, *, detach: bool = False) -> Run:
        """A new fine-tune run, even if one with the same inputs succeeded (`kit train`)."""
        if detach:
            raise no_detach()
        return self._pipeline(console).train()

    def serve(self, console: Console, run_id: str, *, force: bool = False) -> dict[str, Any]:
        """Serve a chosen run (`kit serve --run ID`, also a rollback), then smoke-test it."""
        self.server.preflight(self.cfg.serving.engine, self.cfg.serving.port)
        run = self._pipeline(console).serve(run_id, force=force)
        return {"run_id": run.id, "endpoint": self.state.load().get("endpoint")}

    # --- the pipeline's primitives (kit.pipeline.flow.Primitives) ---------------------------

    def setup_phases(self) -> list[tuple[str, Callable[[], Outcome]]]:
        return []

    def stage_data(self, uri: str, key: str) -> str:
        """A local copy of a dataset (a bucket is synced beside the runs) to validate and train on."""
        local = self.cfg.resolve_path(uri)
        if local is None:  # a bucket: stage a verified copy beside the runs
            from kit.data.sync import sync

            local = self.workdir.staged_data(uri)
            sync(uri, str(local))
        if not local.exists():
            raise KitError(f"{key}: {uri}: no such file or folder ({local})",
                           hint=f"point {key} at your JSONL/CSV/Parquet file or folder")
        return str(local)

    def stage_model(self) -> BaseModel:
        from kit.local.model_store import stage

        model = stage(self.cfg)
        return BaseModel(revision=model.revision, location=str(model.path),
                         outcome=Outcome(f"{model.label} [dim]({escape(str(model.path))})[/]"))

    def place(self) -> dict[str, Any]:
        return {}

    def reconcile(self, run: Run) -> Run:
        return run      # the ledger notices a dead trainer itself (its pid)

    def can_resume(self, run: Run) -> bool:
        """A stopped run with checkpoints (a running one is another kit's trainer)."""
        return run.status != RUNNING and (self.store.dir(run.id) / "checkpoints").is_dir()

    def fine_tune(self, run: Run, data: Dataset, model: BaseModel, *, detach: bool) -> Outcome:
        from kit.local.trainer_process import run_trainer

        spec = {"run_id": run.id, "base_model": model.location,
                "data": data.location, "output": str(self.store.dir(run.id)),
                "training": self.cfg.training.model_dump(), "upload_uri": None,
                "eval": self.cfg.eval.trainer_options(), "eval_data": data.eval_location}
        run_trainer(self.store, run, spec, self._console)
        return succeeded(run)

    def serving(self) -> str | None:
        info = self.server.info()
        return info.run_id if info else None

    def roll_out(self, run: Run) -> Outcome:
        from kit.local.trainer_process import model_dir
        from kit.serving.client import Endpoint, is_healthy, wait_healthy

        current = self.server.info()
        if current and current.run_id == run.id and current.port == self.cfg.serving.port \
                and current.max_new_tokens == self.cfg.serving.max_new_tokens \
                and is_healthy(Endpoint(current.endpoint)):
            return Outcome(f"already serving {current.run_id} at {current.endpoint}", skipped=True)
        if current:
            self.server.stop()
        info = self.server.start(model_dir(self.store, run), run.id,
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

    def smoke(self) -> Outcome:
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
