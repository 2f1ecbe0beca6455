"""The run ledger: fine-tune runs of one deployment, on every target (id, status, fingerprint,
metrics), and the fingerprint that says two runs are the same work.

A run is a folder `runs/<id>/` of the workdir (kit.workdir) with `run.json` (this record). On
the local target the trainer writes beside it (checkpoints/, model/, adapter/, metrics.jsonl,
summary.json); on a cluster those live in the artifacts bucket and the record is reconciled
with the run's Job (kit.cluster.finetune_jobs). A run is `succeeded` only when the trainer
exited 0 *and* wrote summary.json; anything else is `failed` or `interrupted`, so a killed
trainer can never leave a run that looks good. Only kit.pipeline.flow creates records.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit.errors import KitError
from kit.jsonio import read_json, write_json
from kit.layout.buckets import MERGED_SUBDIR
from kit.process import alive

if TYPE_CHECKING:
    from kit.config import KitConfig

RUNNING, SUCCEEDED, FAILED, INTERRUPTED = "running", "succeeded", "failed", "interrupted"
# Trained to the end, but the evaluation gate kept it from being served (kit.pipeline.gate).
REJECTED = "rejected"


def fingerprint(**parts: Any) -> str:
    """A stable key for "the same work": canonical JSON of the inputs, hashed."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def run_fingerprint(cfg: "KitConfig", *, data: str, model_revision: str,
                    place: dict[str, Any] | None = None) -> str:
    """The one key of "the same fine-tune", for every target: the dataset's identity (its
    manifest hash; the URI when rendering without reading it), the base model at its resolved
    revision, the training settings as the recipe resolves them, the trainer version, and where
    it runs (`place`: the GPU shape and trainer image on a cluster; nothing locally)."""
    from kit.trainer import TRAINER_VERSION
    from kit.trainer.recipe import resolve

    return fingerprint(data=data, model=f"{cfg.model.id}@{model_revision}",
                       training=resolve(cfg.training.model_dump()), trainer=TRAINER_VERSION,
                       place=place or {})


@dataclass
class Run:
    id: str
    fingerprint: str
    status: str
    created: float
    base_model: str
    method: str
    finished: float | None = None
    pid: int | None = None          # local target: the trainer process while it runs
    pid_started: str | None = None  # start time of `pid`: a reused pid is not our trainer
    exit_code: int | None = None
    reason: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    estimate: dict[str, Any] = field(default_factory=dict)   # kit.estimate.actual.planned, at start
    actual: dict[str, Any] = field(default_factory=dict)     # hours, GPU hours, cost, once done
    eval: dict[str, Any] = field(default_factory=dict)       # held-out losses, scores, passed (kit.pipeline.gate)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Run":
        """Known fields only: a record written by a newer kit still reads."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self, root: Path) -> dict[str, Any]:
        data = asdict(self)
        folder = root / self.id
        data["artifacts"] = {
            "dir": str(folder),
            "model": str(folder / MERGED_SUBDIR) if (folder / MERGED_SUBDIR).is_dir() else None,
            "adapter": str(folder / "adapter") if (folder / "adapter").is_dir() else None,
            "log": str(folder / "train.log"),
            "bench": sorted(str(p) for p in (folder / "bench").glob("*.json")),
        }
        return data


class RunStore:
    """The runs folder of one deployment: what was started, and how each ended."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def new_id(self) -> str:
        return time.strftime("run-%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(2)

    def dir(self, run_id: str) -> Path:
        return self.root / run_id

    def save(self, run: Run) -> None:
        write_json(self.dir(run.id) / "run.json", asdict(run))

    def get(self, run_id: str) -> Run:
        data = read_json(self.dir(run_id) / "run.json")
        if data is None:
            known = ", ".join(r.id for r in self.list()[:5]) or "none yet"
            raise KitError(f"run {run_id!r} not found in {self.root}", hint=f"known runs: {known}")
        return self._notice_dead_trainer(Run.from_dict(data))

    def list(self) -> list[Run]:
        """All runs, newest first."""
        if not self.root.is_dir():
            return []
        runs = []
        for path in self.root.glob("*/run.json"):
            data = read_json(path)
            if data:
                runs.append(self._notice_dead_trainer(Run.from_dict(data)))
        return sorted(runs, key=lambda r: r.created, reverse=True)

    def _notice_dead_trainer(self, run: Run) -> Run:
        """A local run still marked running whose process is gone was interrupted: say so,
        durably. (A cluster run has no pid: its Job says how it ended, FineTuneJobs.reconcile.)"""
        if run.status == RUNNING and run.pid is not None and \
                not alive(run.pid, started=run.pid_started):
            run.status, run.finished = INTERRUPTED, run.finished or time.time()
            run.reason = run.reason or "the trainer stopped without finishing (killed or crashed)"
            self.save(run)
        return run

    def find(self, fingerprint: str, *statuses: str) -> Run | None:
        """The newest run of this fingerprint in one of `statuses`."""
        return next((r for r in self.list() if r.fingerprint == fingerprint and r.status in statuses),
                    None)

    def latest_succeeded(self) -> Run | None:
        return next((r for r in self.list() if r.status == SUCCEEDED), None)
