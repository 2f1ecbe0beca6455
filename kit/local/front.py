"""The local endpoint's front: the only door to the model, on 127.0.0.1.

`transformers serve` pinned to a run folder answers only to that folder's path, names that path
as `model`, ends streams without `data: [DONE]`, answers errors as `{"detail": ...}`, and
serves paths no client needs (`/reset`, `/load_model`). This front listens on the endpoint's
port and starts `transformers serve` behind it on a private port; kit.local.openai_wire says
what crosses:
- only requests addressed to a loopback name (`Host: 127.0.0.1|localhost|[::1][:port]`), and
  none from another site's web page (`Origin`): a browser page that rebinds its own name to
  127.0.0.1 is refused (403);
- only the OpenAI paths the kit serves (POST /v1/chat/completions, /v1/completions,
  /v1/responses; GET /v1/models, /health); anything else is 404 and never reaches the engine;
- requests naming the deployment, no model, or huggingface_hub's placeholders go to the run's
  model (another name: 404, nothing loaded); a reply is at most `--max-new-tokens` tokens;
- answers name the deployment as `model`, errors are OpenAI's error object with the right
  status, streams are relayed as they come and end with `data: [DONE]`.

    python -m kit.local.front --name NAME --port PORT --model DIR --max-new-tokens N
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

from kit.local import openai_wire as wire
from kit.serving.client import CLIENT_DEFAULT_MODELS

HOST = "127.0.0.1"
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade"}
# Not relayed to the engine: hop-by-hop, the caller's address and its browser's credentials.
DROPPED = HOP | {"host", "origin", "referer", "cookie"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def make_handler(name: str, model: str, backend: int,
                 max_new_tokens: int) -> type[http.server.BaseHTTPRequestHandler]:
    """A handler that checks, maps and relays requests to the engine on port `backend`."""

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

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """http.server's own refusals (malformed request line, unknown method) as JSON; an
            unknown method is the caller's error (405), not a missing feature (501)."""
            self.close_connection = True
            code = 405 if code == 501 else code
            try:
                self._json(code, wire.error_body(code, message or self.responses.get(code, ("",))[0]))
            except OSError:
                pass

        def _refuse(self, refusal: wire.Refusal, *, close: bool = False) -> None:
            if close:
                self.close_connection = True        # an unread body must not become a request
            self._json(refusal.status, refusal.body())

        def _admit(self) -> tuple[str, str] | None:
            """(what to do, path) for a request the front takes, else refused here."""
            path = self.path.split("?")[0]
            try:
                wire.check_origin(self.headers.get("Host"), self.headers.get("Origin"))
                return wire.route(self.command, path), path
            except wire.Refusal as refusal:
                self._refuse(refusal, close=True)
                return None

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            admitted = self._admit()
            if admitted is None:
                return
            action, path = admitted
            if action == "answer":
                self._json(200, {"object": "list", "data": [
                    {"id": name, "object": "model", "created": 0, "owned_by": "lima-kit"}]})
                return
            self._relay(path, None)

        def do_POST(self) -> None:  # noqa: N802
            admitted = self._admit()
            if admitted is None:
                return
            _, path = admitted
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                self._refuse(wire.Refusal(411, "send the request body with a Content-Length"),
                             close=True)
                return
            try:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            except ValueError:
                self._refuse(wire.Refusal(400, "Content-Length is not a number"), close=True)
                return
            try:
                try:
                    request = json.loads(body or b"{}")
                except ValueError:
                    raise wire.Refusal(400, "the request body is not JSON") from None
                request = wire.prepare(path, request, name=name, model=model,
                                       extra_names=CLIENT_DEFAULT_MODELS,
                                       max_new_tokens=max_new_tokens)
            except wire.Refusal as refusal:
                self._refuse(refusal)
                return
            self._relay(path, json.dumps(request).encode(), done=path != "/v1/responses")

        def do_PUT(self) -> None:  # noqa: N802 (no path takes it: refused by _admit)
            self._admit()

        do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_PUT  # noqa: N815

        def _relay(self, path: str, body: bytes | None, *, done: bool = False) -> None:
            upstream = http.client.HTTPConnection(HOST, backend, timeout=600)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in DROPPED}
            try:
                upstream.request(self.command, path, body=body, headers=headers)
                response = upstream.getresponse()
            except OSError:
                upstream.close()
                self._json(503, wire.error_body(
                    503, "the model server is not answering (starting or stopping)"))
                return
            try:
                kind = (response.getheader("Content-Type") or "").split(";")[0].strip()
                if response.status >= 400:
                    self._json(response.status, wire.error_from_engine(
                        response.status, response.read(), name=name, model=model))
                elif kind == "text/event-stream":
                    self._stream(response, done=done)
                elif kind == "application/json":
                    try:
                        payload = wire.named(json.loads(response.read()), name)
                    except ValueError:
                        payload = wire.error_body(502, "the model server answered malformed JSON")
                        self._json(502, payload)
                        return
                    self._json(response.status, payload)
                else:
                    data = response.read()
                    self.send_response(response.status)
                    self.send_header("Content-Type", kind or "application/octet-stream")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
            finally:
                upstream.close()

        def _stream(self, response: http.client.HTTPResponse, *, done: bool) -> None:
            """Server-sent events relayed line by line as they come, each reshaped; a
            completion stream ends with `data: [DONE]` whether the engine sent it or not."""
            self.send_response(response.status)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            finished = False
            while line := response.readline():
                finished = finished or line.strip() == wire.DONE
                self._chunk(wire.event_line(line, name=name, model=model))
            if done and not finished:
                self._chunk(wire.DONE + b"\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    return Front


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kit.local.front")
    parser.add_argument("--name", required=True, help="the model name clients use")
    parser.add_argument("--port", type=int, required=True, help="the endpoint's port (127.0.0.1)")
    parser.add_argument("--model", required=True, help="the run's model folder")
    parser.add_argument("--max-new-tokens", type=int, required=True,
                        help="most tokens in one reply (serving.max_new_tokens)")
    parser.add_argument("--serve", default="transformers", help="the transformers executable")
    args = parser.parse_args(argv)
    backend = free_port()
    server = http.server.ThreadingHTTPServer(   # bound first: no orphan backend
        (HOST, args.port), make_handler(args.name, args.model, backend, args.max_new_tokens))
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
