"""`kit down` works while kit.yaml has an error (the config `kit up` recorded is enough), and
leaves no stale serve/smoke phases; the smoke test fails on an empty reply."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kit.config import load
from kit.errors import KitError
from kit.process import start_time
from kit.recorded import remember
from tests.conftest import free_port, port_open, run_kit

CONFIG = ("name: ward\ntarget: local\nmodel:\n  id: demo:tiny-llama\ndata:\n  uri: data.jsonl\n"
          "serving:\n  port: {port}\n")


@pytest.fixture
def serving(tmp_path):
    """A local deployment `kit up` brought up: its recorded config, its phases done, and a
    process listening on its port in the server's place (a pidfile as the server writes it)."""
    port = free_port()
    (tmp_path / "kit.yaml").write_text(CONFIG.format(port=port))
    cfg = load(tmp_path / "kit.yaml")
    remember(cfg)
    from kit.pipeline import DeploymentState

    state = DeploymentState(cfg.workdir.state)
    for phase in ("data", "model", "fine-tune", "serve", "smoke"):
        state.set_phase(phase, "done", "ok")
    state.update(endpoint=f"http://127.0.0.1:{port}")
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    threading.Thread(target=proc.wait, daemon=True).start()   # reaped when it ends, as the
    deadline = time.monotonic() + 20                          # real server is by init
    while not port_open(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    record = cfg.workdir.server / "server.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"pid": proc.pid, "port": port, "run_id": "run-1",
                                  "model_dir": "/m", "started": start_time(proc.pid)}))
    yield tmp_path, port, proc
    proc.kill()


@pytest.mark.parametrize("broken", [
    "name: ward\ntarget: local\nmodel:\n  id: demo:tiny-llama\ndata:\n  uri: data.jsonl\n"
    "trainig:\n  epochs: 3\n",                                  # a misspelt key
    "name: ward\ntarget: local\nmodel: [unclosed\n",            # not even YAML
])
def test_down_stops_serving_while_kit_yaml_is_broken(serving, broken):
    folder, port, proc = serving
    (folder / "kit.yaml").write_text(broken)
    assert run_kit("status", "-f", str(folder / "kit.yaml"), cwd=folder).returncode == 1
    result = run_kit("down", "-f", str(folder / "kit.yaml"), cwd=folder)
    assert result.returncode == 0, result.stderr
    warning = result.stderr.splitlines()
    assert warning[0].startswith(f"warning: {folder / 'kit.yaml'}")
    assert warning[1].startswith("warning: so tearing down ward (target local) as `kit up` "
                                 "recorded it in ")
    assert "stopped the local server" in result.stdout
    assert proc.wait(timeout=20) is not None and not port_open(port)


def test_down_from_a_broken_file_without_a_recorded_deployment_says_so(tmp_path):
    (tmp_path / "kit.yaml").write_text("name: ward\ntarget: local\n")      # model, data missing
    result = run_kit("down", "-f", str(tmp_path / "kit.yaml"), cwd=tmp_path)
    assert result.returncode == 1
    assert "model: required key is missing" in result.stderr
    assert "no deployment of it is recorded in" in result.stderr and "Traceback" not in result.stderr


def test_status_after_down_shows_nothing_serving_and_no_stale_smoke(serving):
    folder, port, _ = serving
    assert run_kit("down", "-f", str(folder / "kit.yaml"), cwd=folder).returncode == 0
    result = run_kit("status", "-f", str(folder / "kit.yaml"), "--output", "json", cwd=folder)
    info = json.loads(result.stdout)
    assert info["endpoint"] is None and info["healthy"] is False
    phases = info["phases"]
    assert phases["serve"]["status"] == "stopped" and phases["smoke"]["status"] == "stopped"
    assert phases["fine-tune"]["status"] == "done"          # the runs are kept


class OpenAI(BaseHTTPRequestHandler):
    reply = ""

    def log_message(self, *args):
        pass

    def _send(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "ward", "object": "model"}]})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send({"id": "c", "object": "chat.completion", "created": 0, "model": "ward",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": self.reply}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1}})


@pytest.mark.parametrize("reply,fails", [("", True), (" \n\t", True), ("Dear plan,", False)])
def test_the_smoke_test_fails_on_an_empty_reply(reply, fails):
    from kit.serving.client import Endpoint
    from kit.serving.smoke import smoke_test

    handler = type("Handler", (OpenAI,), {"reply": reply})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = Endpoint(f"http://127.0.0.1:{server.server_address[1]}")
    try:
        if fails:
            with pytest.raises(KitError, match="smoke test: the endpoint answered "
                                               "serving.smoke_prompt with an empty reply"):
                smoke_test(endpoint, "Write a letter.")
        else:
            assert smoke_test(endpoint, "Write a letter.").reply == reply
    finally:
        server.shutdown()



@pytest.mark.parametrize("target", ["aws", "kubernetes"])
def test_the_recorded_config_of_a_cluster_deployment_is_the_one_kit_up_validated(tmp_path, target):
    import yaml

    from kit.recorded import from_state
    from tests.cluster.conftest import AWS, K8S

    raw = AWS if target == "aws" else K8S
    (tmp_path / "kit.yaml").write_text(yaml.safe_dump(raw))
    cfg = load(tmp_path / "kit.yaml")
    remember(cfg)
    (tmp_path / "kit.yaml").write_text(yaml.safe_dump({**raw, "gpu": {"typo": 1}}))
    with pytest.raises(KitError) as broken:
        load(tmp_path / "kit.yaml")
    again = from_state(tmp_path / "kit.yaml", broken.value)
    assert again.model_dump() == cfg.model_dump() and again.workdir == cfg.workdir


def test_a_failed_kit_up_still_records_what_kit_down_needs(tmp_path):
    (tmp_path / "kit.yaml").write_text(CONFIG.format(port=free_port()))    # no data.jsonl
    up = run_kit("up", "-f", str(tmp_path / "kit.yaml"), "--yes", cwd=tmp_path)
    assert up.returncode == 1 and "data.uri: data.jsonl: no such file" in up.stderr
    (tmp_path / "kit.yaml").write_text("name: ward\ntarget: local\nmodel: {id: 3\n")
    down = run_kit("down", "-f", str(tmp_path / "kit.yaml"), cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert "warning: so tearing down ward (target local)" in down.stderr
