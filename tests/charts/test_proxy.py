"""The API-key proxy, for real: the chart's rendered start.sh and nginx.conf run with a real
nginx in front of a stand-in engine on loopback, serving HTTPS with a certificate from the
kit's own CA (kit.serving.certs), checked by the kit's own client (kit.serving.client).

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
from pathlib import Path

import pytest
from chartkit import NAMESPACE, case_values, one

from kit.render.engine import render_chart
from kit.serving.certs import issue_server, new_ca
from kit.serving.client import Endpoint

SERVICE = "acme-server.lima.svc"     # the name the kit's clients verify
CA = new_ca("acme", [SERVICE, "internal-lb.example"])

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
        if self.path == "/v1/models":
            body = json.dumps({"object": "list", "data": [{"id": "acme", "object": "model"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        body = json.dumps({"path": self.path,
                           "authorization": self.headers.get("Authorization")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        """A chat completion that echoes the last message (what a Messages API engine returns)."""
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"id": "1", "object": "chat.completion", "created": 0,
                           "model": request.get("model"),
                           "choices": [{"index": 0, "finish_reason": "stop", "message": {
                               "role": "assistant",
                               "content": "echo: " + request["messages"][-1]["content"]}}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 2,
                                     "total_tokens": 3}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _endpoint(port: int, ca_pem: str = CA.cert) -> Endpoint:
    return Endpoint(f"https://127.0.0.1:{port}", ca_pem=ca_pem, server_name=SERVICE)


def _get(port: int, path: str, auth: str | None = None) -> tuple[int, dict | None]:
    with _endpoint(port).session() as session:
        resp = session.get(f"https://127.0.0.1:{port}{path}", timeout=5,
                           headers={"Authorization": auth} if auth else {})
    return resp.status_code, (resp.json() if resp.status_code == 200 else None)


@pytest.fixture
def proxy(tmp_path):
    _, values = case_values("keys-from-values")
    config = one([o for o in render_chart("tgi", values, release="acme", namespace=NAMESPACE)
                  if o["kind"] == "ConfigMap"], "ConfigMap")["data"]
    engine = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Engine)
    threading.Thread(target=engine.serve_forever, daemon=True).start()
    port = _free_port()

    scratch, keys, tls = tmp_path / "tmp", tmp_path / "keys", tmp_path / "tls"
    for folder in (scratch, keys, tls):
        folder.mkdir()
    pair = issue_server(CA, [SERVICE])
    (tls / "tls.crt").write_text(pair.cert)
    (tls / "tls.key").write_text(pair.key)
    (keys / "primary").write_text(PRIMARY + "\n")
    (keys / "next").write_text(NEXT)
    (keys / "too-short").write_text("short")
    conf = (config["nginx.conf"].replace("/tmp/", f"{scratch}/")
            .replace("/etc/lima-tls/", f"{tls}/")
            .replace("listen 8443 ssl;", f"listen 127.0.0.1:{port} ssl;")
            .replace("127.0.0.1:8081", f"127.0.0.1:{engine.server_address[1]}"))
    (tmp_path / "nginx.conf").write_text(conf)
    (tmp_path / "start.sh").write_text(config["start.sh"])
    assert conf.count(f"listen 127.0.0.1:{port} ssl;") == 1
    env = {**os.environ, "LIMA_KEYS_DIR": str(keys), "LIMA_MAP_DIR": str(scratch / "keys"),
           "LIMA_TLS_DIR": str(tls),
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
        yield port, keys, tls
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        engine.shutdown()


def test_only_health_is_open(proxy):
    port, _, _ = proxy
    assert _get(port, "/health")[0] == 200
    for path in ("/v1/chat/completions", "/info", "/metrics", "/v1/models", "/health/x"):
        assert _get(port, path)[0] == 401, path


def test_keys_are_exact_and_case_sensitive(proxy):
    port, _, _ = proxy
    status, seen = _get(port, "/v1/chat", f"Bearer {PRIMARY}")
    assert status == 200 and seen["path"] == "/v1/chat"
    assert seen["authorization"] is None                  # the engine never sees the key
    assert _get(port, "/info", f"bearer {NEXT}")[0] == 200  # the scheme is case-insensitive
    assert _get(port, "/info", f"Bearer {PRIMARY.upper()}")[0] == 401
    assert _get(port, "/info", f"Bearer {PRIMARY}x")[0] == 401
    assert _get(port, "/info", f"Bearer {PRIMARY[:-1]}")[0] == 401
    assert _get(port, "/info", "Bearer short")[0] == 401  # rejected by start.sh
    assert _get(port, "/info", PRIMARY)[0] == 401


def test_rotation_without_restart(proxy):
    port, keys, _ = proxy
    (keys / "rotated").write_text(ROTATED)
    (keys / "primary").unlink()
    deadline = time.time() + 40      # a reload every second; a busy machine may lag
    while time.time() < deadline and _get(port, "/info", f"Bearer {ROTATED}")[0] != 200:
        time.sleep(0.3)
    assert _get(port, "/info", f"Bearer {ROTATED}")[0] == 200
    assert _get(port, "/info", f"Bearer {PRIMARY}")[0] == 401
    assert _get(port, "/info", f"Bearer {NEXT}")[0] == 200


def test_plain_http_is_refused_without_a_redirect(proxy):
    port, _, _ = proxy
    import httpx2

    resp = httpx2.get(f"http://127.0.0.1:{port}/health", timeout=5, follow_redirects=False)
    assert resp.status_code == 400 and "HTTPS only" in resp.text
    assert "location" not in resp.headers


def test_client_trusts_only_the_deployments_ca(proxy):
    """Another CA's client, or one checking another name, never sends its request."""
    import httpx2

    port, _, _ = proxy
    other = new_ca("someone-else", [SERVICE])
    with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        with _endpoint(port, other.cert).session() as session:
            session.get(f"https://127.0.0.1:{port}/health", timeout=5)
    wrong_name = Endpoint(f"https://127.0.0.1:{port}", ca_pem=CA.cert, server_name="evil.example")
    with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        with wrong_name.session() as session:
            session.get(f"https://127.0.0.1:{port}/health", timeout=5)
    with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx2.get(f"https://127.0.0.1:{port}/health", timeout=5)   # the system store alone


def test_renewed_certificate_is_served_without_a_restart(proxy):
    """The kit re-issues the certificate (a new load-balancer name): the proxy picks it up."""
    port, _, tls = proxy
    renewed = issue_server(CA, [SERVICE, "internal-lb.example"])
    (tls / "tls.crt").write_text(renewed.cert)
    (tls / "tls.key").write_text(renewed.key)
    by_lb = Endpoint(f"https://127.0.0.1:{port}", ca_pem=CA.cert, server_name="internal-lb.example")
    deadline = time.time() + 40      # a reload every second; a busy machine may lag
    served = False
    while time.time() < deadline and not served:
        try:
            with by_lb.session() as session:
                served = session.get(f"https://127.0.0.1:{port}/health", timeout=5).status_code == 200
        except Exception:  # noqa: BLE001 (the old certificate, until the reload)
            time.sleep(0.3)
    assert served


def test_kit_chat_goes_through_tls_and_the_key(proxy):
    """The kit's own client (huggingface_hub.InferenceClient under kit.serving.client) over
    the port-forward shape: 127.0.0.1, verifying the Service's name against the CA."""
    from kit.errors import KitError
    from kit.serving.client import chat

    port, _, _ = proxy
    endpoint = Endpoint(f"https://127.0.0.1:{port}", api_key=PRIMARY, ca_pem=CA.cert,
                        server_name=SERVICE)
    assert "".join(chat(endpoint, [{"role": "user", "content": "hi"}])) == "echo: hi"
    stranger = Endpoint(endpoint.url, api_key=PRIMARY, ca_pem=new_ca("x", [SERVICE]).cert, server_name=SERVICE)
    with pytest.raises(KitError, match="certificate is not trusted"):
        list(chat(stranger, [{"role": "user", "content": "hi"}]))
