"""Crash and preemption: a rerun with the same run id resumes from the latest checkpoint."""

from __future__ import annotations

import json
import signal

from kit.trainer import checkpoints
from kit.trainer.events import EXIT_PREEMPTED
from tests.trainer.helpers import read_until, run_trainer, start_trainer, write_spec

SLOW = {"method": "full", "packing": False, "batch_size": 2, "micro_batch_size": 2, "max_length": 128,
        "learning_rate": 3e-3, "eval_fraction": 0.1}


def test_killed_run_resumes_from_its_checkpoint_not_from_zero(tmp_path, tiny_model, data_file):
    output = tmp_path / "out"
    spec = write_spec(tmp_path, tiny_model, data_file, output, {**SLOW, "epochs": 2, "checkpoint_steps": 4})
    proc = start_trainer(spec)
    seen = read_until(proc, lambda e: e["event"] == "checkpoint")
    proc.kill()  # SIGKILL: a crash, no chance to clean up
    proc.wait(timeout=60)
    first_start, checkpoint = seen[0], seen[-1]
    assert checkpoint["event"] == "checkpoint" and checkpoint["step"] == 4
    assert not (output / "summary.json").exists()
    latest = checkpoints.latest_complete(output)
    assert latest is not None
    latest_step = checkpoints.step_of(latest)

    rerun = run_trainer(spec)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    start = rerun.of("start")[0]
    assert start["resumed_from_step"] == latest_step >= 4
    assert start["total_steps"] == first_start["total_steps"]
    steps = [e["step"] for e in rerun.of("step")]
    assert steps == list(range(start["resumed_from_step"] + 1, start["total_steps"] + 1))
    summary = json.loads((output / "summary.json").read_text())
    assert summary["metrics"]["steps"] == first_start["total_steps"]
    # metrics.jsonl holds each step once, across both processes
    records = [json.loads(x) for x in (output / "metrics.jsonl").read_text().splitlines()]
    train_steps = [r["step"] for r in records if r["kind"] == "train"]
    assert train_steps == list(range(1, first_start["total_steps"] + 1))
    assert summary["metrics"]["loss_first"] == next(r["loss"] for r in records if r["kind"] == "train")


def test_sigterm_saves_a_checkpoint_and_exits_without_success(tmp_path, tiny_model, data_file):
    output = tmp_path / "out"
    # No checkpoint but the one SIGTERM makes (training.select best would also save each epoch
    # whose held-out loss is a new low, and the trainer may be epochs ahead of this reader).
    spec = write_spec(tmp_path, tiny_model, data_file, output,
                      {**SLOW, "epochs": 30, "checkpoint_steps": 10_000, "select": "last"})
    proc = start_trainer(spec)
    read_until(proc, lambda e: e["event"] == "step" and e["step"] >= 3)
    proc.send_signal(signal.SIGTERM)
    rest = [json.loads(line) for line in proc.stdout]
    assert proc.wait(timeout=120) == EXIT_PREEMPTED
    saved = [e for e in rest if e["event"] == "checkpoint"]
    assert len(saved) == 1 and rest[-1]["event"] == "error" and "preempted" in rest[-1]["message"]
    assert checkpoints.latest_complete(output) is not None
    assert checkpoints.step_of(checkpoints.latest_complete(output)) == saved[0]["step"] >= 3
    assert not (output / "summary.json").exists() and not (output / "model").exists()
