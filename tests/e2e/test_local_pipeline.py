"""End to end on the local target, for real: validate, fine-tune the tiny demo model on CPU,
serve with `transformers serve`, chat through huggingface_hub.InferenceClient, retrain only on
change, survive a killed trainer, and `kit down` frees the port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_kit

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONFIG = """\
name: e2e
target: local
model:
  id: demo:tiny-llama
data:
  uri: data.jsonl
training:
  method: full
  epochs: {epochs}
  learning_rate: 2.0e-3
  batch_size: 8
  max_length: 256
  eval_fraction: 0.0
  checkpoint_steps: 2
serving:
  engine: transformers
  port: {port}
  max_new_tokens: 16
  system_prompt: You write healthcare administrative text.
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e2e")
    shutil.copy(ROOT / "examples" / "quickstart" / "data.jsonl", folder / "data.jsonl")
    port = free_port()
    (folder / "kit.yaml").write_text(CONFIG.format(epochs=2, port=port))
    yield folder, port
    run_kit("down", "-f", str(folder / "kit.yaml"), "--yes")


def kit(folder: Path, *args: str) -> subprocess.CompletedProcess:
    result = run_kit(*args, "-f", str(folder / "kit.yaml"), cwd=folder)
    assert result.returncode == 0, f"kit {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def status(folder: Path) -> dict:
    return json.loads(kit(folder, "status", "--output", "json").stdout)


def test_up_serves_a_chat_endpoint(project):
    folder, port = project
    kit(folder, "up", "--yes")
    info = status(folder)
    assert info["endpoint"] == f"http://127.0.0.1:{port}" and info["healthy"] is True
    assert info["run_id"] and all(p["status"] in ("done", "skipped") for p in info["phases"].values())
    assert set(info["phases"]) == {"data", "model", "fine-tune", "serve", "smoke"}

    from huggingface_hub import InferenceClient

    from kit.serving.client import served_model

    client = InferenceClient(base_url=info["endpoint"])
    reply = client.chat_completion(messages=[{"role": "user", "content": "Explain CPT 99213."}],
                                   model=served_model(info["endpoint"]), max_tokens=8)
    assert reply.choices[0].message is not None

    runs = json.loads(kit(folder, "runs", "--output", "json").stdout)
    assert runs[0]["id"] == info["run_id"] and runs[0]["status"] == "succeeded"
    metrics = runs[0]["metrics"]
    assert metrics["loss_last"] < metrics["loss_first"]
    assert Path(runs[0]["artifacts"]["model"], "config.json").is_file()

    chat = kit(folder, "chat", "Explain CPT code 99213 to a patient.", "--max-tokens", "8")
    assert chat.stdout.strip() and chat.stderr == ""          # a reply, and no warning
    # `kit logs` prints the latest run's train.log: each attempt there starts with its marker.
    assert "attempt" in kit(folder, "logs").stdout


def test_second_up_does_not_retrain(project):
    folder, _ = project
    before = status(folder)["run_id"]
    started = time.monotonic()
    out = kit(folder, "up", "--yes").stdout
    assert status(folder)["run_id"] == before
    assert "reusing run" in out and "already serving" in out
    assert status(folder)["phases"]["fine-tune"]["status"] == "skipped"
    assert time.monotonic() - started < 60


def test_killed_trainer_never_marks_success_and_next_up_resumes(project):
    folder, port = project
    old_run = status(folder)["run_id"]
    (folder / "kit.yaml").write_text(CONFIG.format(epochs=3, port=port))  # a change: new run
    proc = subprocess.Popen([sys.executable, "-m", "kit", "up", "-f", str(folder / "kit.yaml"),
                             "--yes"], cwd=folder, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "NO_COLOR": "1"})
    runs_dir = folder / ".kit" / "e2e" / "runs"
    victim = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and victim is None:
        for record in runs_dir.glob("*/run.json"):
            data = json.loads(record.read_text())
            ckpts = record.parent / "checkpoints"
            if data["id"] != old_run and data["status"] == "running" and data.get("pid") and \
                    ckpts.is_dir() and any(ckpts.glob("checkpoint-*")):
                victim = data
        time.sleep(0.2)
    assert victim, "the trainer never wrote a checkpoint"
    os.kill(victim["pid"], signal.SIGKILL)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, out
    assert "Traceback" not in out
    runs = {r["id"]: r for r in json.loads(kit(folder, "runs", "--output", "json").stdout)}
    assert runs[victim["id"]]["status"] in ("failed", "interrupted")
    assert status(folder)["run_id"] == old_run  # still serving the last good run

    out = kit(folder, "up", "--yes").stdout
    info = status(folder)
    assert info["run_id"] == victim["id"]  # the same run, resumed
    assert "resuming from step" in out
    assert info["healthy"] is True


def test_down_stops_the_server_and_frees_the_port(project):
    folder, port = project
    assert port_open(port)
    run_id = status(folder)["run_id"]
    kit(folder, "down", "--yes")
    assert not port_open(port)
    info = status(folder)
    assert info["healthy"] is False and info["endpoint"] is None
    runs = json.loads(kit(folder, "runs", "--output", "json").stdout)
    assert any(r["id"] == run_id for r in runs)  # runs are kept
    assert (folder / "data.jsonl").exists()  # data untouched
    result = run_kit("down", "-f", str(folder / "kit.yaml"), "--purge", "--yes", cwd=folder)
    assert result.returncode == 0
    assert not (folder / ".kit" / "e2e").exists() and (folder / "data.jsonl").exists()
