"""Stopping `kit up` / `kit train` on the local target, for real: a tiny model trains in a real
trainer subprocess while `kit logs -F` follows it; SIGTERM (or Ctrl-C) to the kit stops the
trainer's whole process group, records the run interrupted and says what was kept and how to
resume; a kit killed outright takes its trainer with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port
from tests.trainer.helpers import TINY, conversations, write_jsonl

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONFIG = """\
name: stop
target: local
model:
  id: {model}
data:
  uri: data.jsonl
training:
  method: full
  epochs: 40
  batch_size: 4
  max_length: 128
  eval_fraction: 0.1
  checkpoint_steps: 2
eval:
  gate: false
serving:
  port: {port}
"""
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    from kit.local.demo_model import build_tiny_llama

    root = tmp_path_factory.mktemp("stop")
    model = build_tiny_llama(root / "tiny", seed=0, **TINY)
    write_jsonl(root / "data.jsonl", conversations(40))
    (root / "kit.yaml").write_text(CONFIG.format(model=model, port=free_port()))  # 8080 may be taken
    return root


def kit(folder: Path, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kit", *args, "-f", str(folder / "kit.yaml")],
                            cwd=folder, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def training_run(folder: Path, *, not_in: set[str], timeout: float = 300) -> dict:
    """The new run once its trainer has logged a step and saved a checkpoint."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in (folder / ".kit" / "stop" / "runs").glob("*/run.json"):
            run = json.loads(record.read_text())
            ckpts = record.parent / "checkpoints"
            if run["id"] not in not_in and run["status"] == "running" and run.get("pid") and \
                    any(ckpts.glob("checkpoint-*/trainer_state.json")):
                return run
        time.sleep(0.2)
    raise AssertionError("the trainer never saved a checkpoint")


def trainers_of(run_id: str) -> list[int]:
    """Processes still running the trainer of this run (whoever their parent is now)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if "kit.trainer" in cmdline and run_id in cmdline:
            found.append(int(proc.name))
    return found


def test_logs_follow_live_and_sigterm_stops_the_trainer(folder):
    train = kit(folder, "up", "--yes")
    try:
        run = training_run(folder, not_in=set())
        follow = kit(folder, "logs", "-F")
        seen: list[tuple[float, str]] = []
        reader = threading.Thread(target=lambda: seen.extend(
            (time.time(), line.rstrip("\n")) for line in follow.stdout), daemon=True)
        reader.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and \
                sum(" step " in line and at > seen[0][0] + 1 for at, line in seen) < 5:
            time.sleep(0.2)                  # the steps before it started, then 5 more, live
        stopped_at = time.time()
        train.send_signal(signal.SIGTERM)
        _, err = train.communicate(timeout=180)
        follow.wait(timeout=30)              # it ends by itself once the run has
        reader.join(timeout=5)
    finally:
        train.kill()
    assert train.returncode == 143, err
    assert trainers_of(run["id"]) == [] and not Path(f"/proc/{run['pid']}").exists()
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"interrupted: fine-tune {run['id']} stopped by SIGTERM to the kit at step ")
    kept = json.loads(Path(folder, ".kit/stop/runs", run["id"], "run.json").read_text())
    assert kept["status"] == "interrupted" and kept["pid"] is None
    step = int(last.split("checkpoint at step ")[1].split(" ")[0])
    assert (folder / ".kit/stop/runs" / run["id"] / f"checkpoints/checkpoint-{step}").is_dir()
    assert f"`kit up` resumes run {run['id']} from step {step}" in last

    # What `kit logs -F` showed while it trained: each step within seconds of being written.
    events = [json.loads(line) for line in
              Path(folder, ".kit/stop/runs", run["id"], "events.jsonl").read_text().splitlines()]
    written = {e["step"]: e["time"] for e in events if e["event"] == "step"}
    shown = {int(line.split(" step ", 1)[1].split("/")[0]): at for at, line in seen if " step " in line}
    assert set(shown) <= set(written) and min(shown) == 1      # from the start, then live
    live = [s for s in shown if seen[0][0] < written[s] < stopped_at]   # while it followed
    assert len(live) >= 4
    lags = sorted(shown[s] - written[s] for s in live)
    assert lags[-1] < 2.0, lags
    assert "interrupted: stopped by SIGTERM to the kit" in seen[-1][1]
    assert not any("Traceback" in line for _, line in seen)


def test_ctrl_c_stops_the_trainer_and_says_how_to_resume(folder):
    before = {p.name for p in (folder / ".kit" / "stop" / "runs").glob("*")}
    train = kit(folder, "train")
    try:
        run = training_run(folder, not_in=before)
        train.send_signal(signal.SIGINT)     # what a terminal's Ctrl-C sends the kit
        _, err = train.communicate(timeout=180)
    finally:
        train.kill()
    assert train.returncode == 130, err
    assert trainers_of(run["id"]) == []
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"interrupted: fine-tune {run['id']} stopped by Ctrl-C at step ")
    assert "checkpoint at step " in last and f"`kit up` resumes run {run['id']} from step" in last
    assert "Traceback" not in err and "aborted" not in err


def test_a_kit_killed_outright_takes_its_trainer_with_it(folder):
    before = {p.name for p in (folder / ".kit" / "stop" / "runs").glob("*")}
    train = kit(folder, "train")
    try:
        run = training_run(folder, not_in=before)
        train.kill()                          # SIGKILL: no handler of the kit runs
        train.wait(timeout=30)
        deadline = time.monotonic() + 60      # the trainer gets SIGTERM, saves, exits
        while trainers_of(run["id"]) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        train.kill()
    assert trainers_of(run["id"]) == []
