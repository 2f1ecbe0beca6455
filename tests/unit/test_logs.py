"""`kit logs`: the training story from the trainer's events, the same text live (-F) and
afterwards; stderr noise only with --raw; --output json as plain JSON lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from kit.logview import describe, story
from kit.pipeline.ledger import Run, RunStore
from kit.process import start_time
from tests.conftest import ROOT, run_kit

CONFIG = "name: story\ntarget: local\nmodel:\n  id: demo:tiny-llama\ndata:\n  uri: data.jsonl\n"

EVENTS = [
    {"event": "start", "time": 1796660000.0, "run_id": "run-1", "method": "lora", "device": "cpu",
     "examples": 45, "total_steps": 4, "resumed_from_step": 0},
    {"event": "eval", "time": 1796660001.0, "epoch": 0.0, "step": 0, "eval_loss": 8.25},
    {"event": "step", "time": 1796660002.0, "step": 1, "total": 4, "epoch": 0.25, "loss": 8.4831,
     "lr": 0.002, "tokens_per_s": 2270.9, "eta_s": 75.0},
    {"event": "checkpoint", "time": 1796660003.0, "step": 2, "path": "/x/checkpoint-2"},
    {"event": "step", "time": 1796660004.0, "step": 4, "total": 4, "epoch": 1.0, "loss": 3.1,
     "lr": 0.0001, "tokens_per_s": 900.0, "eta_s": 0.0},
    {"event": "eval", "time": 1796660005.0, "epoch": 1.0, "step": 4, "eval_loss": 5.5},
    {"event": "done", "time": 1796660006.0, "metrics": {
        "loss_first": 8.4831, "loss_last": 3.1, "steps": 4, "tokens_per_s": 93.0,
        "eval": {"examples": 5, "base_loss": 8.25, "tuned_loss": 5.5}}},
]
NOISE = ["Traceback (most recent call last):", "KeyboardInterrupt",
         "BrokenPipeError: [Errno 32] Broken pipe",
         "Some weights were not initialized: missing keys ['lm_head.weight']"]


def project(tmp_path: Path, *, status: str = "succeeded", pid: int | None = None) -> tuple[Path, Path]:
    """A local deployment with one run whose trainer wrote EVENTS (and stderr noise)."""
    (tmp_path / "kit.yaml").write_text(CONFIG)
    store = RunStore(tmp_path / ".kit" / "story" / "runs")
    run = Run(id="run-1", fingerprint="k", status=status, created=time.time(), base_model="m",
              method="lora", pid=pid, pid_started=start_time(pid) if pid else None,
              eval={"examples": 5, "base_loss": 8.25, "tuned_loss": 5.5, "passed": True,
                    "max_loss_ratio": 1.0})
    store.save(run)
    return tmp_path / "kit.yaml", store.dir("run-1")


def write_run_files(folder: Path, events: list[dict]) -> None:
    lines = [json.dumps(e) for e in events]
    (folder / "events.jsonl").write_text("".join(line + "\n" for line in lines))
    (folder / "train.log").write_text("\n".join(NOISE[:2] + lines + NOISE[2:]) + "\n")


def test_each_event_reads_as_one_line():
    text = [describe({k: v for k, v in e.items() if k != "time"}) for e in EVENTS]
    assert text[0] == "started: lora on cpu, 45 examples, 4 steps"
    assert text[1] == "base model before training: held-out loss 8.2500"
    assert text[2] == "step 1/4  epoch 0.25  loss 8.4831  lr 2.00e-03  2,271 tokens/s  eta 1m15s"
    assert text[3] == "checkpoint saved at step 2"
    assert text[5] == "epoch 1.00 (step 4): held-out loss 5.5000"
    assert text[6] == ("finished  4 steps  loss 8.4831 -> 3.1000  held-out loss 8.2500 (base model)"
                       " -> 5.5000 (tuned)  93 tokens/s")
    assert describe({"event": "error", "kind": "other",
                     "message": "preempted (SIGTERM) at step 3/4; checkpoint at step 2"}) == \
        "stopped: preempted (SIGTERM) at step 3/4; checkpoint at step 2"
    assert describe({"event": "error", "kind": "oom", "message": "out of memory"}) == \
        "failed: out of memory"
    stamped = describe(EVENTS[3])
    assert stamped.endswith(" checkpoint saved at step 2") and stamped[2] == ":" and stamped[5] == ":"


def test_story_keeps_the_events_and_drops_the_noise():
    lines = NOISE + [json.dumps(EVENTS[2]), "{not json", '{"no": "event"}']
    assert [line.split(" ", 1)[1] for line in story(lines)] == [
        "step 1/4  epoch 0.25  loss 8.4831  lr 2.00e-03  2,271 tokens/s  eta 1m15s"]
    assert [json.loads(line) for line in story(lines, output="json")] == [EVENTS[2]]


def test_kit_logs_tells_the_training_story_and_the_gates_verdict(tmp_path):
    config, folder = project(tmp_path)
    write_run_files(folder, EVENTS)
    result = run_kit("logs", "-f", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(EVENTS) + 1
    assert "step 1/4  epoch 0.25  loss 8.4831  lr 2.00e-03  2,271 tokens/s" in lines[2]
    assert lines[-1].endswith("run run-1 succeeded; held-out check passed: loss 5.5000 <= 1 x "
                              "the base model's 8.2500")
    assert not any(noise in result.stdout for noise in ("Traceback", "lm_head", "BrokenPipe"))


def test_raw_shows_the_trainer_output_as_written(tmp_path):
    config, folder = project(tmp_path)
    write_run_files(folder, EVENTS)
    result = run_kit("logs", "--raw", "-f", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == (folder / "train.log").read_text().splitlines()


def test_output_json_is_the_events_as_json_lines(tmp_path):
    config, folder = project(tmp_path)
    write_run_files(folder, EVENTS)
    result = run_kit("logs", "--output", "json", "-f", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[:-1] == EVENTS
    assert records[-1]["event"] == "run" and records[-1]["status"] == "succeeded"
    assert records[-1]["eval"]["passed"] is True


WRITER = """
import json, sys, time
from pathlib import Path
from kit.pipeline.ledger import RunStore
folder, steps = Path(sys.argv[1]), int(sys.argv[2])
with (folder / "events.jsonl").open("a") as fh:
    for step in range(1, steps + 1):
        time.sleep(0.6)
        fh.write(json.dumps({"event": "step", "time": time.time(), "step": step, "total": steps,
                             "loss": 2.0 / step}) + "\\n")
        fh.flush()
store = RunStore(folder.parent)
run = store.get(folder.name)
run.status, run.pid = "succeeded", None
store.save(run)
"""


def test_follow_prints_each_event_as_it_is_written_and_ends_with_the_run(tmp_path):
    """`kit logs -F` against a process that appends events live (the local trainer's part):
    each step is on screen within a second or two of being written, and the command ends by
    itself when the run does."""
    steps = 10
    (tmp_path / "kit.yaml").write_text(CONFIG)
    folder = tmp_path / ".kit" / "story" / "runs" / "run-1"
    folder.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(folder), str(steps)], env=env)
    try:
        project(tmp_path, status="running", pid=writer.pid)
        reader = subprocess.Popen([sys.executable, "-m", "kit", "logs", "-F", "-f",
                                   str(tmp_path / "kit.yaml")], cwd=tmp_path, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen: list[tuple[float, str]] = []
        thread = threading.Thread(target=lambda: seen.extend(
            (time.time(), line.rstrip("\n")) for line in reader.stdout), daemon=True)
        thread.start()
        writer.wait(timeout=60)
        reader.wait(timeout=20)       # it ends by itself once the run has
        thread.join(timeout=5)
    finally:
        writer.kill()
    assert reader.returncode == 0, reader.stderr.read()
    written = {e["step"]: e["time"] for e in map(json.loads, (folder / "events.jsonl").open())}
    shown = {int(line.split("step ", 1)[1].split("/")[0]): at for at, line in seen
             if " step " in line}
    assert sorted(shown) == list(range(1, steps + 1))
    live = [step for step in shown if written[step] > seen[0][0]]   # once it was following
    assert len(live) >= 3
    lags = [shown[step] - written[step] for step in live]
    assert max(lags) < 2.0, lags
    assert seen[-1][1].startswith("run run-1 succeeded; held-out check passed")


def test_events_outlive_a_reader_that_is_gone():
    """The local kit died (its end of the trainer's stdout is closed): emitting must not kill
    the trainer mid-step; it stops emitting and carries on until told to stop."""
    from kit.trainer.events import Events

    read, write = os.pipe()
    os.close(read)
    events = Events(os.fdopen(write, "w", buffering=1))
    events.emit("step", step=1)
    events.emit("checkpoint", step=1, path="/x")
    assert events.enabled is False
