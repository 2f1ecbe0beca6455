"""Local target safety: purge keeps what others use, stale pids are never ours, damaged state
and dropped connections are one-line errors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest
from rich.console import Console

from kit.config import parse
from kit.errors import KitError
from kit.local.server import LocalServer
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
    from kit.runs import RunStore

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

    from kit.lock import deployment_lock
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
