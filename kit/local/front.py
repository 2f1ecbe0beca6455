"""The local endpoint's front: one stable model name, whatever the client sends.

`transformers serve` pinned to a run folder answers only to that folder's path, so a plain
`InferenceClient(base_url=...)` (which sends a placeholder model name) or an OpenAI client
naming the deployment got HTTP 400. This front listens on the endpoint's port (127.0.0.1) and
starts `transformers serve` behind it on a private port: requests naming the deployment, no
model, or huggingface_hub's placeholders go to the run's model; any other name gets a clear 404
and nothing is loaded. /v1/models lists the deployment's name. Everything else passes through,
streamed as it comes (server-sent events).

    python -m kit.local.front --name NAME --port PORT --model DIR
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import signal
import socket
import subprocess
import sys
import threading

from kit.serving.client import CLIENT_DEFAULT_MODELS

HOST = "127.0.0.1"
ROUTED = ("/v1/chat/completions", "/v1/completions", "/v1/responses")
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def make_handler(name: str, model: str, backend: int) -> type[http.server.BaseHTTPRequestHandler]:
    """A handler that maps model names and relays to the backend on `backend`."""

    class Front(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # The server log: method, path and status only (never bodies or headers).
            sys.stderr.write(f"front: {self.command} {self.path.split('?')[0]} {code}\n")

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.split("?")[0] == "/v1/models":
                self._json(200, {"object": "list", "data": [
                    {"id": name, "object": "model", "owned_by": "lima-kit"}]})
                return
            self._relay(None)

        def _bad(self, status: int, message: str) -> None:
            self.close_connection = True            # an unread body must not become a request
            self._json(status, {"error": {"message": message, "type": "invalid_request_error"}})

        def do_POST(self) -> None:  # noqa: N802
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                self._bad(411, "send the request body with a Content-Length")
                return
            try:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            except ValueError:
                self._bad(400, "Content-Length is not a number")
                return
            if self.path.split("?")[0] in ROUTED:
                try:
                    request = json.loads(body or b"{}")
                except json.JSONDecodeError:
                    self._bad(400, "the request body is not JSON")
                    return
                if not isinstance(request, dict):
                    self._bad(400, "the request body must be a JSON object")
                    return
                asked = request.get("model")
                if asked not in (None, "", name, *CLIENT_DEFAULT_MODELS):
                    self._json(404, {"error": {
                        "message": f"model {asked!r} is not served here: this endpoint serves "
                                   f"{name!r}", "type": "invalid_request_error",
                        "code": "model_not_found"}})
                    return
                request["model"] = model
                body = json.dumps(request).encode()
            self._relay(body)

        def _relay(self, body: bytes | None) -> None:
            upstream = http.client.HTTPConnection(HOST, backend, timeout=600)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP | {"host"}}
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
            except OSError:
                self._json(503, {"error": {"message": "the model server is not answering (starting or stopping)",
                                           "type": "server_error"}})
                return
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in HOP:
                    self.send_header(key, value)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                while chunk := response.read1(65536):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            finally:
                upstream.close()

    return Front


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kit.local.front")
    parser.add_argument("--name", required=True, help="the model name clients use")
    parser.add_argument("--port", type=int, required=True, help="the endpoint's port (127.0.0.1)")
    parser.add_argument("--model", required=True, help="the run's model folder")
    parser.add_argument("--serve", default="transformers", help="the transformers executable")
    args = parser.parse_args(argv)
    backend = free_port()
    server = http.server.ThreadingHTTPServer((HOST, args.port),   # bound first: no orphan backend
                                             make_handler(args.name, args.model, backend))
    child = subprocess.Popen([args.serve, "serve", args.model, "--host", HOST,
                              "--port", str(backend)], stdin=subprocess.DEVNULL)
    server.daemon_threads = True

    def stop(_signum: int, _frame: object) -> None:
        child.terminate()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        child.wait()           # the front lives as long as the model server
    finally:
        if child.poll() is None:
            child.terminate()
            child.wait(timeout=20)
    return child.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
