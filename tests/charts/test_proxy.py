"""The API-key proxy, for real: the chart's rendered start.sh and nginx.conf run with a real
nginx in front of a stand-in engine on loopback.

Needs an `nginx` binary (on PATH, or LIMA_KIT_NGINX=/path/to/nginx); skipped without one.
Paths the pod mounts (/etc/lima-keys, /tmp, ports) are moved into a temporary folder.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from chartkit import NAMESPACE, case_values, one

from kit.render.engine import render_chart

NGINX = os.environ.get("LIMA_KIT_NGINX") or shutil.which("nginx")
pytestmark = pytest.mark.skipif(not NGINX, reason="no nginx binary (set LIMA_KIT_NGINX)")

PRIMARY, NEXT, ROTATED = "k" * 24 + "Primary", "n" * 24 + "Next", "r" * 24 + "Rotated"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Engine(http.server.BaseHTTPRequestHandler):
    """Answers every GET with what it received, so tests see what the proxy forwards."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.dumps({"path": self.path,
                           "authorization": self.headers.get("Authorization")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _get(port: int, path: str, auth: str | None = None) -> tuple[int, dict | None]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if auth:
        req.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, None


@pytest.fixture
def proxy(tmp_path):
    _, values = case_values("keys-from-values")
    config = one([o for o in render_chart("tgi", values, release="acme", namespace=NAMESPACE)
                  if o["kind"] == "ConfigMap"], "ConfigMap")["data"]
    engine = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Engine)
    threading.Thread(target=engine.serve_forever, daemon=True).start()
    port = _free_port()

    scratch, keys = tmp_path / "tmp", tmp_path / "keys"
    scratch.mkdir()
    keys.mkdir()
    (keys / "primary").write_text(PRIMARY + "\n")
    (keys / "next").write_text(NEXT)
    (keys / "too-short").write_text("short")
    conf = (config["nginx.conf"].replace("/tmp/", f"{scratch}/")
            .replace("listen 8080;", f"listen 127.0.0.1:{port};")
            .replace("127.0.0.1:8081", f"127.0.0.1:{engine.server_address[1]}"))
    (tmp_path / "nginx.conf").write_text(conf)
    (tmp_path / "start.sh").write_text(config["start.sh"])
    env = {**os.environ, "LIMA_KEYS_DIR": str(keys), "LIMA_MAP_DIR": str(scratch / "keys"),
           "LIMA_PROXY_CONF": str(tmp_path / "nginx.conf"), "LIMA_RELOAD_SECONDS": "1",
           "PATH": f"{Path(NGINX).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(["sh", str(tmp_path / "start.sh")], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            if proc.poll() is not None:
                pytest.fail(f"proxy exited: {proc.stderr.read()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port, keys
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        engine.shutdown()


def test_only_health_is_open(proxy):
    port, _ = proxy
    assert _get(port, "/health")[0] == 200
    for path in ("/v1/chat/completions", "/info", "/metrics", "/v1/models", "/health/x"):
        assert _get(port, path)[0] == 401, path


def test_keys_are_exact_and_case_sensitive(proxy):
    port, _ = proxy
    status, seen = _get(port, "/v1/models", f"Bearer {PRIMARY}")
    assert status == 200 and seen["path"] == "/v1/models"
    assert seen["authorization"] is None                  # the engine never sees the key
    assert _get(port, "/info", f"bearer {NEXT}")[0] == 200  # the scheme is case-insensitive
    assert _get(port, "/info", f"Bearer {PRIMARY.upper()}")[0] == 401
    assert _get(port, "/info", f"Bearer {PRIMARY}x")[0] == 401
    assert _get(port, "/info", f"Bearer {PRIMARY[:-1]}")[0] == 401
    assert _get(port, "/info", "Bearer short")[0] == 401  # rejected by start.sh
    assert _get(port, "/info", PRIMARY)[0] == 401


def test_rotation_without_restart(proxy):
    port, keys = proxy
    (keys / "rotated").write_text(ROTATED)
    (keys / "primary").unlink()
    deadline = time.time() + 15
    while time.time() < deadline and _get(port, "/info", f"Bearer {ROTATED}")[0] != 200:
        time.sleep(0.3)
    assert _get(port, "/info", f"Bearer {ROTATED}")[0] == 200
    assert _get(port, "/info", f"Bearer {PRIMARY}")[0] == 401
    assert _get(port, "/info", f"Bearer {NEXT}")[0] == 200
