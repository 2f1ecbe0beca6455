"""The local endpoint's front (kit.local.front), for real: its process in front of a stand-in
for `transformers serve` (a script that answers like the Messages API and says which model it
was asked for), reached with huggingface_hub's InferenceClient as users do."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kit.local.front import free_port

BACKEND = r'''
import http.server, json, sys
port = int(sys.argv[sys.argv.index("--port") + 1])

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        body = b"ok"
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = "asked for " + req["model"]
        if req.get("stream"):
            self.send_response(200); self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
            for piece in (text[:5], text[5:]):
                event = {"id": "1", "object": "chat.completion.chunk", "created": 0, "model": req["model"],
                         "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece},
                                      "finish_reason": None}]}
                data = ("data: " + json.dumps(event) + "\n\n").encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data)); self.wfile.flush()
            done = b"data: [DONE]\n\n"
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
            return
        body = json.dumps({"id": "1", "object": "chat.completion", "created": 0, "model": req["model"],
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": text}}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)

http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
'''


@pytest.fixture
def front(tmp_path):
    serve = tmp_path / "transformers"
    serve.write_text(f"#!{sys.executable}\n{BACKEND}")
    serve.chmod(0o755)
    port = free_port()
    model = str(tmp_path / "runs" / "r1" / "model")
    proc = subprocess.Popen([sys.executable, "-m", "kit.local.front", "--name", "acme",
                             "--port", str(port), "--model", model, "--serve", str(serve)],
                            start_new_session=True, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the front never became healthy")
        yield url, model
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_a_bare_inference_client_is_answered(front):
    """No model argument: huggingface_hub sends a placeholder name, which reaches the run."""
    from huggingface_hub import InferenceClient

    url, model = front
    reply = InferenceClient(base_url=url).chat_completion([{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == f"asked for {model}"


def test_the_deployments_name_works_and_streams(front):
    from huggingface_hub import InferenceClient

    url, model = front
    client = InferenceClient(base_url=url)      # it closes its streams when collected
    pieces = [c.choices[0].delta.content for c in client.chat_completion(
        [{"role": "user", "content": "hi"}], model="acme", stream=True) if c.choices]
    assert "".join(pieces) == f"asked for {model}" and len(pieces) == 2


def test_another_model_name_is_a_clear_404_and_loads_nothing(front):
    url, _ = front
    request = urllib.request.Request(f"{url}/v1/chat/completions", method="POST",
                                     data=json.dumps({"model": "meta-llama/Llama-3.1-8B",
                                                      "messages": []}).encode(),
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=5)
    assert err.value.code == 404
    body = json.loads(err.value.read())
    assert body["error"]["message"] == ("model 'meta-llama/Llama-3.1-8B' is not served here: "
                                        "this endpoint serves 'acme'")


def test_models_lists_the_deployments_name(front):
    url, _ = front
    with urllib.request.urlopen(f"{url}/v1/models", timeout=5) as resp:
        assert [m["id"] for m in json.loads(resp.read())["data"]] == ["acme"]


def test_the_front_listens_on_loopback_only(front):
    """Its listening socket (from the kernel's table, whatever interfaces this machine has)."""
    url, _ = front
    port = int(url.rsplit(":", 1)[1])
    listening = [line.split()[1] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                 if line.split()[3] == "0A"]                       # state LISTEN
    mine = [address for address in listening if int(address.split(":")[1], 16) == port]
    assert mine == ["0100007F:%04X" % port]                       # 127.0.0.1 only


@pytest.mark.parametrize(("headers", "body", "status"), [
    ({"Transfer-Encoding": "chunked"}, b"5\r\nhello\r\n0\r\n\r\n", 411),
    ({"Content-Length": "2"}, b"[]", 400),
    ({"Content-Length": "abc"}, b"", 400),
])
def test_a_request_it_cannot_read_is_refused_in_one_answer(front, headers, body, status):
    url, _ = front
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + body)
        answer = sock.recv(4096).decode()
    assert answer.startswith(f"HTTP/1.1 {status} ")
