"""Helpers for the trainer tests: small chat data, spec files, and running `python -m kit.trainer`
the way the local target does (stdout parsed as the JSON-lines contract)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

QA = [
    ("What is a SOAP note?", "A SOAP note has four parts: Subjective, Objective, Assessment and Plan."),
    ("What is a prior authorization?", "A request the practice sends to the health plan before a service."),
    ("Which code describes type 2 diabetes without complications?", "E11.9 describes type 2 diabetes."),
    ("How is hypertension coded?", "Hypertension is coded I10."),
    ("What does a CPT code describe?", "CPT codes describe the procedure or service."),
]

# The shape the tests train: small enough for a few seconds per run on 2 cores.
TINY = {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "init_std": 0.1}


def conversations(n: int) -> list[list[dict]]:
    out = []
    for i in range(n):
        q, a = QA[i % len(QA)]
        msgs = [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        if i % 3 == 0:
            msgs.insert(0, {"role": "system", "content": "Keep it brief."})
        if i % 4 == 1:  # multi-turn
            msgs += [{"role": "user", "content": "Thank you."}, {"role": "assistant", "content": "You are welcome."}]
        out.append(msgs)
    return out


def write_jsonl(path: Path, convs: list[list[dict]]) -> Path:
    path.write_text("".join(json.dumps({"messages": c}) + "\n" for c in convs), encoding="utf-8")
    return path


@dataclass
class Run:
    returncode: int
    events: list[dict]
    stdout: str
    stderr: str

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["event"] == kind]


def write_spec(tmp: Path, model: Path, data: Path, output: Path, training: dict, run_id: str = "run-1") -> Path:
    spec = tmp / f"spec-{run_id}.json"
    spec.write_text(json.dumps({"run_id": run_id, "base_model": str(model), "data": str(data),
                                "output": str(output), "training": training, "upload_uri": None}))
    return spec


def trainer_env() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "")}
    if not os.environ.get("KIT_TEST_GPU"):
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def parse_events(stdout: str) -> list[dict]:
    """Every stdout line must be one JSON event: that is the contract."""
    events = []
    for line in stdout.splitlines():
        event = json.loads(line)
        assert isinstance(event, dict) and "event" in event, line
        events.append(event)
    return events


def run_trainer(spec: Path, timeout: float = 300) -> Run:
    proc = subprocess.run([sys.executable, "-m", "kit.trainer", "--spec", str(spec)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=trainer_env())
    return Run(proc.returncode, parse_events(proc.stdout), proc.stdout, proc.stderr)


def start_trainer(spec: Path) -> subprocess.Popen:
    """The trainer as a background process whose stdout events can be read as they come."""
    return subprocess.Popen([sys.executable, "-m", "kit.trainer", "--spec", str(spec)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=trainer_env())


def read_until(proc: subprocess.Popen, predicate) -> list[dict]:
    """Events up to and including the first one matching `predicate` (or until the process ends)."""
    seen = []
    for line in proc.stdout:
        seen.append(json.loads(line))
        if predicate(seen[-1]):
            break
    return seen
