"""End to end on the local target, for real: validate, fine-tune the tiny demo model on CPU,
serve with `transformers serve`, chat through huggingface_hub.InferenceClient, retrain only on
change, survive a killed trainer, and `kit down` frees the port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, port_open, run_kit

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
  eval_fraction: 0.1
  checkpoint_steps: 2
eval:
  max_loss_ratio: {ratio}
  generate_examples: 2
  max_new_tokens: 8
serving:
  engine: transformers
  port: {port}
  max_new_tokens: 16
  system_prompt: You write healthcare administrative text.
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e2e")
    shutil.copy(ROOT / "examples" / "quickstart" / "data.jsonl", folder / "data.jsonl")
    port = free_port()
    (folder / "kit.yaml").write_text(CONFIG.format(epochs=2, port=port, ratio=1.0))
    yield folder, port
    run_kit("down", "-f", str(folder / "kit.yaml"), "--yes")


def kit(folder: Path, *args: str) -> subprocess.CompletedProcess:
    result = run_kit(*args, "-f", str(folder / "kit.yaml"), cwd=folder)
    assert result.returncode == 0, f"kit {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def status(folder: Path) -> dict:
    return json.loads(kit(folder, "status", "--output", "json").stdout)


def runs(folder: Path) -> list[dict]:
    return json.loads(kit(folder, "runs", "--output", "json").stdout)


def wait_for(condition, timeout_s: float, every_s: float = 0.1) -> bool:
    """Poll `condition` until it holds (True) or `timeout_s` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every_s)
    return False


def answered_chats(server_log: Path, since: int) -> int:
    """Chat requests the local front answered 200 after byte `since` of its log."""
    with server_log.open("rb") as log:
        log.seek(since)
        return log.read().decode(errors="replace").count("front: POST /v1/chat/completions 200")


def test_up_serves_a_chat_endpoint(project):
    folder, port = project
    kit(folder, "up", "--yes")
    info = status(folder)
    assert info["endpoint"] == f"http://127.0.0.1:{port}" and info["healthy"] is True
    assert info["run_id"] and all(p["status"] in ("done", "skipped") for p in info["phases"].values())
    assert set(info["phases"]) == {"data", "model", "fine-tune", "serve", "smoke"}
    assert info["served_model"] == "e2e"
    assert not any("[/" in p["detail"] or "[dim]" in p["detail"] for p in info["phases"].values())

    from huggingface_hub import InferenceClient

    from kit.serving.client import Endpoint, served_model

    bare = InferenceClient(base_url=info["endpoint"])      # no model: as a user would call it
    assert bare.chat_completion([{"role": "user", "content": "Hi"}], max_tokens=4).choices
    assert served_model(Endpoint(info["endpoint"])) == "e2e"
    reply = bare.chat_completion(messages=[{"role": "user", "content": "Explain CPT 99213."}],
                                 model="e2e", max_tokens=8)
    assert reply.choices[0].message is not None

    runs = json.loads(kit(folder, "runs", "--output", "json").stdout)
    assert runs[0]["id"] == info["run_id"] and runs[0]["status"] == "succeeded"
    held_out = runs[0]["eval"]            # judged on examples it never trained on
    assert held_out["passed"] is True and held_out["tuned_loss"] < held_out["base_loss"]
    assert info["serving_run"] == runs[0]["id"]
    metrics = runs[0]["metrics"]
    assert metrics["loss_last"] < metrics["loss_first"]
    assert runs[0]["estimate"]["train_hours"] > 0 and runs[0]["actual"]["hours"] > 0
    learned = json.loads((folder / ".kit" / "throughput.json").read_text())
    assert learned["demo:tiny-llama|l4|full"]["run_id"] == runs[0]["id"]
    assert Path(runs[0]["artifacts"]["model"], "config.json").is_file()

    chat = kit(folder, "chat", "Explain CPT code 99213 to a patient.", "--max-tokens", "8")
    assert chat.stdout.strip() and chat.stderr == ""          # a reply, and no warning
    # `kit logs` tells the latest run's story from its events: steps with their loss, the end.
    story = kit(folder, "logs").stdout.splitlines()
    assert any(" step 1/" in line and " loss " in line for line in story)
    assert f"run {runs[0]['id']} succeeded" in story[-1]


def test_the_endpoint_answers_as_openai_does(project):
    """Against the real `transformers serve` behind the front: the README's client asking for
    800 tokens gets at most serving.max_new_tokens (16), the reply and every streamed chunk
    name the deployment, the stream ends with [DONE], a bad request is OpenAI's error object,
    and the engine's own paths are out of reach."""
    import urllib.error
    import urllib.request

    from huggingface_hub import InferenceClient

    folder, port = project
    url = f"http://127.0.0.1:{port}"
    client = InferenceClient(base_url=url)
    reply = client.chat_completion([{"role": "user", "content": "Explain CPT 99213."}],
                                   model="e2e", max_tokens=800)
    assert reply.model == "e2e" and 0 < reply.usage.completion_tokens <= 16
    chunks = list(client.chat_completion([{"role": "user", "content": "Hi"}], stream=True))
    assert chunks and {c.model for c in chunks} == {"e2e"}

    def post(path: str, body: dict) -> tuple[int, bytes]:
        request = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    code, raw = post("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}],
                                              "stream": True, "max_tokens": 4})
    assert code == 200 and raw.endswith(b"data: [DONE]\n\n")
    code, raw = post("/v1/chat/completions", {"messages": []})
    assert code == 400 and set(json.loads(raw)["error"]) == {"message", "type", "param", "code"}
    assert post("/reset", {})[0] == 404
    assert status(folder)["healthy"] is True       # the model is still loaded and answering


def test_second_up_does_not_retrain(project):
    folder, _ = project
    before = status(folder)["run_id"]
    started = time.monotonic()
    out = kit(folder, "up", "--yes").stdout
    assert status(folder)["run_id"] == before
    assert "reusing run" in out and "already serving" in out
    assert status(folder)["phases"]["fine-tune"]["status"] == "skipped"
    assert time.monotonic() - started < 60


def test_kit_train_then_kit_up_serves_that_run(project):
    """The pipeline test of issue 25 on the local target: `kit train` makes a new run of the same
    work; the next `kit up` finds it (the newest run of that fingerprint), trains nothing and
    serves it. Both record the run the same way (resolved settings, base model revision, kit
    version)."""
    from kit import __version__

    folder, _ = project
    before = {r["id"] for r in runs(folder)}
    kit(folder, "train")
    [trained] = [r for r in runs(folder) if r["id"] not in before]
    assert trained["status"] == "succeeded"
    assert trained["inputs"]["kit_version"] == __version__
    assert trained["inputs"]["settings"]["method"] == "full"      # resolved by the recipe
    assert trained["inputs"]["settings"]["learning_rate"] == 2.0e-3
    out = kit(folder, "up", "--yes").stdout
    assert f"reusing run {trained['id']}" in out
    assert {r["id"] for r in runs(folder)} == before | {trained["id"]}    # nothing trained again
    info = status(folder)
    assert info["serving_run"] == trained["id"] and info["healthy"] is True


LEVEL_FIELDS = {"concurrency", "requests", "errors", "failed", "ttft_s", "itl_s", "e2e_s",
                "output_tokens_per_s", "requests_per_s", "wall_s"}


def test_bench_measures_each_level_and_saves_beside_the_run(project):
    folder, port = project
    result = json.loads(kit(folder, "bench", "--concurrency", "1,2", "--requests", "6",
                            "--max-tokens", "8", "--output", "json").stdout)
    assert result["endpoint"] == f"http://127.0.0.1:{port}"
    assert [lv["concurrency"] for lv in result["levels"]] == [1, 2]
    for lv in result["levels"]:
        assert set(lv) == LEVEL_FIELDS
        assert lv["requests"] == 6 and lv["failed"] == 0 and lv["errors"] == {}
        assert 0 < lv["ttft_s"]["p50"] <= lv["ttft_s"]["p95"] <= lv["ttft_s"]["p99"]
        assert lv["e2e_s"]["p50"] >= lv["ttft_s"]["p50"] and lv["output_tokens_per_s"] > 0
    assert result["replicas"] == 1 and result["knee"]["users_per_replica"] == result["knee"]["concurrency"]
    saved = Path(result["saved"].removeprefix("file://"))
    assert json.loads(saved.read_text())["levels"] == result["levels"]
    assert "<svg" in saved.with_suffix(".html").read_text()
    runs = json.loads(kit(folder, "runs", "--output", "json").stdout)
    served = next(r for r in runs if r["id"] == result["run_id"])
    assert str(saved) in served["artifacts"]["bench"]


def test_every_file_the_kit_keeps_is_private(project):
    """After a real run, its serving, `kit bench` and `kit eval` (both outside the deployment
    lock), under the user's umask: every file under .kit/ is 0600, every folder 0700."""
    import stat

    folder, _ = project
    kit(folder, "eval")
    kept = list((folder / ".kit").rglob("*"))
    assert any(p.name == "report.html" for p in kept) and any(p.suffix == ".html" and
                                                              p.parent.name == "bench" for p in kept)
    loose = [f"{p} {oct(stat.S_IMODE(p.lstat().st_mode))}" for p in kept if not p.is_symlink()
             and stat.S_IMODE(p.lstat().st_mode) != (0o700 if p.is_dir() else 0o600)]
    assert loose == []


def test_bench_counts_the_errors_when_the_server_stops_and_exits_1(project):
    folder, _ = project
    server_log = folder / ".kit" / "e2e" / "server" / "server.log"
    seen = server_log.stat().st_size
    proc = subprocess.Popen([sys.executable, "-m", "kit", "bench", "-f", str(folder / "kit.yaml"),
                             "--concurrency", "1", "--requests", "400", "--duration", "60",
                             "--max-tokens", "4", "--output", "json"], cwd=folder, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        # It is sending once the front has answered some of its requests (one log line each):
        # stop the server under it.
        answered = wait_for(lambda: answered_chats(server_log, seen) >= 3 or proc.poll() is not None,
                            timeout_s=120)
        assert answered and proc.poll() is None, "bench sent nothing, or stopped before the server"
        kit(folder, "down")
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1
    (level,) = json.loads(out)["levels"]
    # Refused connections once it is gone; a reply cut mid-stream reads as a bad response; the
    # front answers 503 in the moment between its model server stopping and itself.
    assert level["failed"] > 0 and "connection" in level["errors"]
    assert set(level["errors"]) <= {"connection", "bad-response", "http-503"}
    assert level["requests"] - level["failed"] > 0          # some succeeded before the stop
    assert err.strip().splitlines()[-1].startswith(f"error: bench: {level['failed']} of "
                                                   f"{level['requests']} requests failed (")
    kit(folder, "up", "--yes")               # serving again for the tests that follow


def test_killed_trainer_never_marks_success_and_next_up_resumes(project):
    folder, port = project
    old_run = status(folder)["run_id"]
    (folder / "kit.yaml").write_text(CONFIG.format(epochs=3, port=port, ratio=1.0))  # a change: new run
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


def test_a_run_the_gate_rejects_is_not_served_and_the_previous_one_keeps_serving(project):
    folder, port = project
    kit(folder, "up", "--yes")                     # a healthy deployment to begin with
    before = status(folder)
    assert before["serving_run"] and before["healthy"] is True
    (folder / "kit.yaml").write_text(CONFIG.format(epochs=1, port=port, ratio=0.001))
    result = run_kit("up", "-f", str(folder / "kit.yaml"), "--yes", cwd=folder)
    try:
        assert result.returncode == 1, result.stdout
        line = result.stderr.strip().splitlines()[-1]
        assert "rejected by the evaluation gate: held-out loss" in line
        assert f"the endpoint keeps serving run {before['serving_run']}" in line
        runs = json.loads(kit(folder, "runs", "--output", "json").stdout)
        rejected = runs[0]
        assert rejected["status"] == "rejected" and rejected["eval"]["passed"] is False
        assert rejected["eval"]["max_loss_ratio"] == 0.001
        after = status(folder)
        assert after["serving_run"] == before["serving_run"] and after["healthy"] is True
        shown = json.loads(kit(folder, "eval", rejected["id"], "--output", "json").stdout)
        assert shown["status"] == "rejected" and shown["serving_run"] == before["serving_run"]
        assert shown["report"].endswith(f"/{rejected['id']}/report.html")
    finally:
        (folder / "kit.yaml").write_text(CONFIG.format(epochs=2, port=port, ratio=1.0))
