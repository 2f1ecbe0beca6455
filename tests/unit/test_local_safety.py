"""Local target safety: purge keeps what others use, stale pids are never ours, damaged state
and dropped connections are one-line errors."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest
from rich.console import Console

from kit.config import parse
from kit.errors import KitError
from kit.local.server import LocalServer, port_in_use
from kit.local.target import LocalTarget
from kit.process import alive, start_time
from tests.conftest import run_kit


def config(tmp_path, name="alpha"):
    return parse({"name": name, "model": {"id": "demo:tiny-llama"}, "data": {"uri": "d.jsonl"}},
                 base_dir=tmp_path)


def test_purge_keeps_models_shared_with_another_deployment(tmp_path):
    for folder in ("alpha/runs/r1", "beta/runs/r2", "models/demo", "state/.pulumi"):
        (tmp_path / ".kit" / folder).mkdir(parents=True)
    done = LocalTarget(config(tmp_path)).down(Console(quiet=True), purge=True)
    assert not (tmp_path / ".kit" / "alpha").exists()
    assert (tmp_path / ".kit" / "beta" / "runs" / "r2").is_dir()
    assert (tmp_path / ".kit" / "models" / "demo").is_dir()
    assert (tmp_path / ".kit" / "state" / ".pulumi").is_dir()  # never a deployment's to delete
    assert any("shared with beta" in line for line in done)
    LocalTarget(config(tmp_path, "beta")).down(Console(quiet=True), purge=True)
    assert not (tmp_path / ".kit" / "models").exists()


def test_a_reused_pid_is_not_our_process(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                            start_new_session=True)
    try:
        assert alive(proc.pid, started=start_time(proc.pid))
        assert not alive(proc.pid, started="1")  # recorded start time of another process
        server = LocalServer(tmp_path)
        (tmp_path / "server.json").write_text(json.dumps(
            {"pid": proc.pid, "port": 1, "run_id": "r", "model_dir": "m", "started": "1"}))
        assert server.info() is None and server.stop() is False
        assert proc.poll() is None  # the stranger was not signalled
    finally:
        proc.kill()
        proc.wait()


def test_damaged_state_is_one_line(tmp_path):
    (tmp_path / "kit.yaml").write_text(
        "name: demo\nmodel:\n  id: demo:tiny-llama\ndata:\n  uri: d.jsonl\n")
    state = tmp_path / ".kit" / "demo" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"phases": {"data": ')
    result = run_kit("status", "-f", str(tmp_path / "kit.yaml"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "state.json: damaged state file" in result.stderr


def test_run_record_from_a_newer_kit_still_reads(tmp_path):
    from kit.pipeline.ledger import RunStore

    record = tmp_path / "run-x" / "run.json"
    record.parent.mkdir()
    record.write_text(json.dumps({"id": "run-x", "fingerprint": "f", "status": "succeeded",
                                  "created": 1.0, "base_model": "m", "method": "lora",
                                  "field_from_the_future": 1}))
    assert RunStore(tmp_path).get("run-x").status == "succeeded"


def test_dropped_connection_is_a_kit_error():
    """A server that lists a model, then hangs up on the chat request."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            request = conn.recv(65536)
            if b"/v1/models" in request:
                body = b'{"data": [{"id": "m"}]}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    from kit.serving.client import Endpoint, chat

    with pytest.raises(KitError, match="connection failed"):
        list(chat(Endpoint(f"http://127.0.0.1:{port}"), [{"role": "user", "content": "hi"}]))
    listener.close()


def test_malformed_trainer_events_are_ignored_not_fatal():
    from kit.local.trainer_process import ProgressReporter, handle_event

    reporter = ProgressReporter(Console(quiet=True))
    for line in ('{"event": "eval", "eval_loss": "nan"}', "[1]", "not json",
                 '{"event": "step", "step": "x", "total": null}', '{"event": "start"}'):
        assert handle_event(line, reporter) is None
    assert handle_event('{"event": "error", "message": " out of memory "}', reporter) == "out of memory"


def test_files_the_kit_writes_are_private_whatever_the_umask(tmp_path):
    """Under the deployment lock: folders 0700, files 0600, also for child processes."""
    import os
    import stat
    import subprocess
    import sys

    from kit.deploy_lock import deployment_lock
    from kit.workdir import Workdir

    workdir = Workdir(tmp_path / ".kit", "acme")
    previous = os.umask(0o022)
    try:
        with deployment_lock(workdir, "up"):
            (workdir.runs / "run-1").mkdir(parents=True)
            (workdir.runs / "run-1" / "train.log").write_text("x")
            subprocess.run([sys.executable, "-c", "open('child.txt', 'w').write('y')"],
                           cwd=workdir.root, check=True)
        assert os.umask(0o022) == 0o022            # the caller's umask is back
    finally:
        os.umask(previous)

    def mode(path):
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(workdir.kit_dir) == mode(workdir.root) == mode(workdir.runs / "run-1") == 0o700
    assert mode(workdir.runs / "run-1" / "train.log") == mode(workdir.root / "child.txt") == 0o600


def _listener(address: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket()
    sock.bind((address, 0))
    sock.listen()
    return sock


def test_a_busy_port_is_refused_before_any_training(tmp_path):
    """`kit up` checks every serve precondition first: a port another program holds is one
    line naming serving.port, before the data is even read, and nothing is trained."""
    from tests.conftest import ROOT

    held = _listener()
    port = held.getsockname()[1]
    shutil.copy(ROOT / "examples" / "quickstart" / "data.jsonl", tmp_path / "data.jsonl")
    (tmp_path / "kit.yaml").write_text(
        "name: busy\ntarget: local\nmodel:\n  id: demo:tiny-llama\ndata:\n  uri: data.jsonl\n"
        f"serving:\n  port: {port}\n")
    try:
        result = run_kit("up", "--yes", "-f", str(tmp_path / "kit.yaml"), timeout=120)
    finally:
        held.close()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"serving.port: 127.0.0.1:{port} is already in use by another program" in result.stderr
    assert "stop the program that holds it" in result.stderr
    assert not (tmp_path / ".kit" / "busy" / "runs").exists()


def test_a_port_bound_on_every_interface_is_busy_too(tmp_path):
    held = _listener("0.0.0.0")
    try:
        with pytest.raises(KitError, match=r"serving.port: 127.0.0.1:\d+ is already in use"):
            LocalServer(tmp_path).preflight("transformers", held.getsockname()[1])
    finally:
        held.close()


def test_this_deployments_own_server_is_not_in_the_way(tmp_path):
    """The running server of this deployment holds the port: `kit up` replaces it, no error."""
    port = _listener().getsockname()[1]      # a free port number, released at once
    proc = subprocess.Popen([sys.executable, "-c",
                             f"import socket,time; s=socket.socket(); s.bind(('127.0.0.1',{port}));"
                             "s.listen(); time.sleep(30)"], start_new_session=True)
    try:
        for _ in range(50):
            if port_in_use(port):
                break
            time.sleep(0.1)
        (tmp_path / "server.json").write_text(json.dumps(
            {"pid": proc.pid, "port": port, "run_id": "r", "model_dir": "m",
             "started": start_time(proc.pid)}))
        assert LocalServer(tmp_path).preflight("transformers", port)
        with pytest.raises(KitError, match="serving.engine: vllm needs a GPU container runtime"):
            LocalServer(tmp_path).preflight("vllm", port)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("where", ["alpha/data.jsonl", "alpha/in/side", "models/data.jsonl"])
def test_purge_never_deletes_data_kept_under_kit(tmp_path, where):
    """data.uri under the folders a purge deletes: refused in one line, nothing touched."""
    data = tmp_path / ".kit" / where
    data.parent.mkdir(parents=True)
    data.write_text('{"prompt": "a", "response": "b"}\n')
    cfg = parse({"name": "alpha", "model": {"id": "demo:tiny-llama"},
                 "data": {"uri": f".kit/{where}"}}, base_dir=tmp_path)
    with pytest.raises(KitError, match=rf"data.uri: .kit/{where} lies in .*, which --purge deletes"):
        LocalTarget(cfg).down(Console(quiet=True), purge=True)
    assert data.read_text() == '{"prompt": "a", "response": "b"}\n'


def test_purge_refuses_through_the_cli_when_the_held_out_set_is_under_kit(tmp_path):
    held_out = tmp_path / ".kit" / "alpha" / "eval.jsonl"
    held_out.parent.mkdir(parents=True)
    held_out.write_text("{}\n")
    (tmp_path / "kit.yaml").write_text(
        "name: alpha\nmodel:\n  id: demo:tiny-llama\ndata:\n  uri: d.jsonl\n"
        f"eval:\n  uri: file://{held_out}\n")
    result = run_kit("down", "--purge", "--yes", "-f", str(tmp_path / "kit.yaml"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "eval.uri:" in result.stderr and "which --purge deletes" in result.stderr
    assert held_out.exists()


def test_every_file_a_local_deployment_keeps_is_0600_after_eval_and_purge_checks(tmp_path):
    """A run's folder as a local run leaves it, then `kit eval` (outside the deployment lock,
    user umask 022) writes its report beside it: every file under .kit/ is 0600, every folder
    0700."""
    import os
    import stat

    from kit.jsonio import write_json
    from kit.pipeline.ledger import Run, RunStore
    from tests.unit.test_eval_gate import write_run

    (tmp_path / "kit.yaml").write_text(
        "name: acme\ntarget: local\nmodel:\n  id: demo:tiny-llama\ndata:\n  uri: d.jsonl\n")
    previous = os.umask(0o022)
    try:
        store = RunStore(tmp_path / ".kit" / "acme" / "runs")
        write_run(store.dir("run-2"))        # what the trainer leaves (here with umask 022)
        store.save(Run(id="run-2", fingerprint="f", status="succeeded", created=0.0,
                       base_model="m", method="lora"))
        for path in (tmp_path / ".kit").rglob("*"):
            path.chmod(0o700 if path.is_dir() else 0o600)      # as the lock's umask makes them
        write_json(tmp_path / ".kit" / "acme" / "state.json", {"phases": {}})
        result = run_kit("eval", "run-2", "-f", str(tmp_path / "kit.yaml"),
                         "--report", str(tmp_path / "report.html"))
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    assert (store.dir("run-2") / "report.html").is_file()
    modes = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode))
             for p in [*(tmp_path / ".kit").rglob("*"), tmp_path / "report.html"]}
    assert modes == {path: "0o700" if (tmp_path / path).is_dir() else "0o600" for path in modes}
