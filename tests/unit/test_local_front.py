"""The local endpoint's front (kit.local.front), for real: its process in front of a stand-in
for `transformers serve` that answers as it does (the model's folder as `model`, streams with
no `data: [DONE]`, errors as `{"detail": ...}`, a `/reset` path) and logs every request it
gets, reached with huggingface_hub's InferenceClient as users do, and with raw HTTP where a
browser's or an attacker's request is the point."""

from __future__ import annotations

import http.client
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

MAX_NEW_TOKENS = 16

BACKEND = r'''
import http.server, json, os, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
HITS = os.environ["BACKEND_HITS"]

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def _send(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def _log(self, body=b""):
        with open(HITS, "a") as fh:
            fh.write(json.dumps({"method": self.command, "path": self.path,
                                 "body": body.decode() or None,
                                 "headers": {k.lower(): v for k, v in self.headers.items()}}) + "\n")
    def do_GET(self):
        self._log()
        self._send(200, {"status": "ok"})
    def do_POST(self):
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        self._log(raw)
        if self.path != "/v1/chat/completions":
            return self._send(200, {"status": "ok"})
        req = json.loads(raw)
        said = req["messages"][-1]["content"]
        if said == "fail-validation":      # FastAPI's own 422
            return self._send(422, {"detail": [{"loc": ["body", "temperature"],
                                                "msg": "Input should be a valid number"}]})
        if said == "fail-value":          # transformers serve's ValueError handler
            return self._send(400, {"detail": "cannot load " + req["model"]})
        text = "asked for " + req["model"]
        if req.get("stream"):
            self.send_response(200); self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
            events = [{"id": "1", "object": "chat.completion.chunk", "created": 0, "model": req["model"],
                       "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece},
                                    "finish_reason": None}]} for piece in (text[:5], text[5:])]
            if said == "fail-midway":
                events.append({"error": "generation failed in " + req["model"]})
            for event in events:
                data = ("data: " + json.dumps(event) + "\n\n").encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data)); self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")      # like transformers serve: no [DONE]
            return
        self._send(200, {"id": "1", "object": "chat.completion", "created": 0, "model": req["model"],
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": text}}],
                         "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
'''


class Front:
    def __init__(self, port: int, model: str, hits: Path) -> None:
        self.port, self.model, self.hits = port, model, hits
        self.url = f"http://127.0.0.1:{port}"

    def backend_saw(self) -> list[dict]:
        """Every request the engine got, in order."""
        return [json.loads(line) for line in self.hits.read_text().splitlines()] \
            if self.hits.exists() else []

    def request(self, method: str, path: str, body: dict | None = None, *,
                host: str | None = None, headers: dict | None = None) -> tuple[int, dict | str]:
        """One raw request (Host as given), the status and the decoded answer."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Host": f"127.0.0.1:{self.port}" if host is None else host, **(headers or {})}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for key, value in all_headers.items():
            conn.putheader(key, value)
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        response = conn.getresponse()
        raw = response.read().decode()
        conn.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("front")
    serve = tmp_path / "transformers"
    serve.write_text(f"#!{sys.executable}\n{BACKEND}")
    serve.chmod(0o755)
    port = free_port()
    model = str(tmp_path / "runs" / "r1" / "model")
    hits = tmp_path / "hits.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "kit.local.front", "--name", "acme",
                             "--port", str(port), "--model", model,
                             "--max-new-tokens", str(MAX_NEW_TOKENS), "--serve", str(serve)],
                            start_new_session=True, stderr=subprocess.DEVNULL,
                            env={**os.environ, "BACKEND_HITS": str(hits)})
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
        yield Front(port, model, hits)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


@pytest.fixture
def front(running):
    """The running front, its engine's log of requests empty."""
    running.hits.unlink(missing_ok=True)
    return running


def openai_error(body: dict) -> dict:
    """OpenAI's error object, exactly its four fields."""
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def test_a_bare_inference_client_is_answered_in_the_deployments_name(front):
    """No model argument: huggingface_hub sends a placeholder name, which reaches the run; the
    reply names the deployment, never the run's folder."""
    from huggingface_hub import InferenceClient

    reply = InferenceClient(base_url=front.url).chat_completion([{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == f"asked for {front.model}"
    assert reply.model == "acme"


def test_a_stream_names_the_deployment_and_ends_with_done(front):
    from huggingface_hub import InferenceClient

    client = InferenceClient(base_url=front.url)      # it closes its streams when collected
    chunks = list(client.chat_completion([{"role": "user", "content": "hi"}], model="acme",
                                         stream=True))
    assert "".join(c.choices[0].delta.content for c in chunks) == f"asked for {front.model}"
    assert [c.model for c in chunks] == ["acme", "acme"]
    status, raw = front.request("POST", "/v1/chat/completions", {
        "messages": [{"role": "user", "content": "hi"}], "stream": True})
    assert status == 200 and raw.endswith("data: [DONE]\n\n")
    assert f'"model": "{front.model}"' not in raw


def test_an_error_in_the_middle_of_a_stream_is_openais_error_object(front):
    status, raw = front.request("POST", "/v1/chat/completions", {
        "messages": [{"role": "user", "content": "fail-midway"}], "stream": True})
    events = [json.loads(line[6:]) for line in raw.splitlines()
              if line.startswith("data: ") and line != "data: [DONE]"]
    error = openai_error(events[-1])
    assert error["message"] == "generation failed in acme" and error["type"] == "server_error"


@pytest.mark.parametrize(("sent", "engine_gets"), [
    ({}, {"max_tokens": MAX_NEW_TOKENS}),
    ({"max_tokens": 800}, {"max_tokens": MAX_NEW_TOKENS}),
    ({"max_tokens": 8}, {"max_tokens": 8}),
    ({"max_completion_tokens": 100}, {"max_completion_tokens": MAX_NEW_TOKENS}),
    ({"max_tokens": 4, "max_completion_tokens": 900},
     {"max_tokens": 4, "max_completion_tokens": MAX_NEW_TOKENS}),
])
def test_a_reply_is_capped_at_serving_max_new_tokens(front, sent, engine_gets):
    """serving.max_new_tokens caps every reply: set when absent, lowered when larger."""
    status, _ = front.request("POST", "/v1/chat/completions",
                              {"messages": [{"role": "user", "content": "hi"}], **sent})
    assert status == 200
    got = json.loads(front.backend_saw()[-1]["body"])
    assert {k: got.get(k) for k in ("max_tokens", "max_completion_tokens")} == \
        {"max_tokens": None, "max_completion_tokens": None, **engine_gets}


def test_the_readmes_inference_client_snippet_gets_a_capped_reply(front):
    """The README's snippet asks for max_tokens=800: the engine is asked for 16."""
    from huggingface_hub import InferenceClient

    InferenceClient(base_url=front.url).chat_completion(
        [{"role": "user", "content": "hi"}], model="acme", max_tokens=800)
    assert json.loads(front.backend_saw()[-1]["body"])["max_tokens"] == MAX_NEW_TOKENS


@pytest.mark.parametrize(("body", "param"), [
    ({"messages": []}, "messages"),
    ({}, "messages"),
    ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "max_tokens"),
    ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": "many"}, "max_tokens"),
])
def test_a_bad_request_is_a_400_in_openais_shape_and_never_reaches_the_engine(front, body, param):
    status, answer = front.request("POST", "/v1/chat/completions", body)
    error = openai_error(answer)
    assert status == 400 and error["param"] == param and error["type"] == "invalid_request_error"
    assert front.backend_saw() == []


@pytest.mark.parametrize(("said", "status", "message"), [
    ("fail-validation", 422, "temperature: Input should be a valid number"),
    ("fail-value", 400, "cannot load acme"),
])
def test_the_engines_errors_are_openais_with_its_status_and_no_folder(front, said, status, message):
    got, answer = front.request("POST", "/v1/chat/completions",
                                {"messages": [{"role": "user", "content": said}]})
    assert got == status and openai_error(answer)["message"] == message


def test_another_model_name_is_a_clear_404_and_loads_nothing(front):
    status, answer = front.request("POST", "/v1/chat/completions", {
        "model": "meta-llama/Llama-3.1-8B", "messages": [{"role": "user", "content": "hi"}]})
    error = openai_error(answer)
    assert status == 404 and error["code"] == "model_not_found"
    assert error["message"] == ("model 'meta-llama/Llama-3.1-8B' is not served here: "
                                "this endpoint serves 'acme'")
    assert front.backend_saw() == []


def test_models_lists_the_deployments_name(front):
    with urllib.request.urlopen(f"{front.url}/v1/models", timeout=5) as resp:
        assert [m["id"] for m in json.loads(resp.read())["data"]] == ["acme"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:{port}", "LOCALHOST", "[::1]:{port}",
                                  "localhost:9000"])
def test_loopback_names_are_answered(front, host):
    """Any port: an `ssh -L 9000:127.0.0.1:PORT` forward keeps the name, not the port."""
    status, answer = front.request("GET", "/v1/models", host=host.format(port=front.port))
    assert status == 200 and answer["data"][0]["id"] == "acme"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
    ("GET", "/v1/models", None),
    ("GET", "/health", None),
])
@pytest.mark.parametrize("host", ["rebind.attacker.example:{port}", "127.0.0.1.nip.io:{port}",
                                  "localhost.:{port}", "localhost:{port}@evil", ""])
def test_dns_rebinding_is_refused_before_the_engine(front, host, method, path, body):
    """A page of another site that rebinds its name to 127.0.0.1 sends its own name as Host:
    403 in OpenAI's shape, and the engine never hears of it."""
    status, answer = front.request(method, path, body, host=host.format(port=front.port))
    assert status == 403 and openai_error(answer)["code"] == "host_not_allowed"
    assert front.backend_saw() == []


def test_a_request_from_another_sites_page_is_refused(front):
    """A cross-site POST a browser sends without asking (no preflight) carries its Origin."""
    status, answer = front.request("POST", "/v1/chat/completions",
                                   {"messages": [{"role": "user", "content": "hi"}]},
                                   headers={"Origin": "https://attacker.example"})
    assert status == 403 and openai_error(answer)["code"] == "origin_not_allowed"
    status, _ = front.request("GET", "/v1/models", headers={"Origin": f"http://localhost:{front.port}"})
    assert status == 200
    assert front.backend_saw() == []


@pytest.mark.parametrize(("method", "path", "status"), [
    ("POST", "/reset", 404),
    ("POST", "/load_model", 404),
    ("POST", "/v1/audio/transcriptions", 404),
    ("POST", "/v1/systemone", 404),
    ("GET", "/docs", 404),
    ("POST", "/v1/chat/completions/../../reset", 404),
    ("GET", "/v1/chat/completions", 405),
    ("DELETE", "/v1/models", 405),
    ("PUT", "/reset", 404),
    ("BREW", "/v1/models", 405),
])
def test_only_the_openai_paths_the_kit_serves_reach_the_engine(front, method, path, status):
    got, answer = front.request(method, path, {"model": "x"} if method != "GET" else None)
    assert got == status and openai_error(answer)["type"] == "invalid_request_error"
    assert front.backend_saw() == []


def test_the_engine_gets_no_browser_credentials_or_origin(front):
    front.request("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]},
                  headers={"Cookie": "session=1", "Referer": "http://localhost/x"})
    headers = front.backend_saw()[-1]["headers"]
    assert "cookie" not in headers and "referer" not in headers


def test_the_front_listens_on_loopback_only(front):
    """Its listening socket (from the kernel's table, whatever interfaces this machine has)."""
    listening = [line.split()[1] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                 if line.split()[3] == "0A"]                       # state LISTEN
    mine = [address for address in listening if int(address.split(":")[1], 16) == front.port]
    assert mine == ["0100007F:%04X" % front.port]                 # 127.0.0.1 only


def _one_answer(sock: socket.socket) -> str:
    """One HTTP answer, however the server splits it across writes (head, then body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096) or b"\r\n\r\n"
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return (head + b"\r\n\r\n" + body).decode()


@pytest.mark.parametrize(("headers", "body", "status"), [
    ({"Transfer-Encoding": "chunked"}, b"5\r\nhello\r\n0\r\n\r\n", 411),
    ({"Content-Length": "2"}, b"[]", 400),
    ({"Content-Length": "abc"}, b"", 400),
])
def test_a_request_it_cannot_read_is_refused_in_one_answer(front, headers, body, status):
    with socket.create_connection(("127.0.0.1", front.port), timeout=5) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode()
                     + body)
        answer = _one_answer(sock)
    assert answer.startswith(f"HTTP/1.1 {status} ")
    assert openai_error(json.loads(answer.split("\r\n\r\n", 1)[1]))
