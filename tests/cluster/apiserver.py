"""A small HTTP server on loopback that answers the real kubernetes client as an API server
would: discovery documents, then scripted answers per request (JSON with a status, or a watch
stream of JSON lines that can be cut mid-way). The client's own parsing, watch and error code
runs; only the server is scripted. Every request is recorded (path and query)."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CORE = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
    {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
     "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
    {"name": "events", "singularName": "event", "namespaced": True, "kind": "Event",
     "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
    {"name": "services", "singularName": "service", "namespaced": True, "kind": "Service",
     "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
    {"name": "nodes", "singularName": "node", "namespaced": False, "kind": "Node",
     "verbs": ["get", "list", "watch"]}]}
BATCH = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "batch/v1", "resources": [
    {"name": "jobs", "singularName": "job", "namespaced": True, "kind": "Job",
     "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}]}
AUTHZ = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "authorization.k8s.io/v1",
         "resources": [{"name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview",
                        "namespaced": False, "kind": "SelfSubjectAccessReview", "verbs": ["create"]}]}
GROUPS = {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
    {"name": group, "versions": [{"groupVersion": f"{group}/v1", "version": "v1"}],
     "preferredVersion": {"groupVersion": f"{group}/v1", "version": "v1"}}
    for group in ("batch", "authorization.k8s.io")]}
DISCOVERY = {"/api": {"kind": "APIVersions", "versions": ["v1"],
                      "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "x"}]},
             "/apis": GROUPS, "/api/v1": CORE, "/apis/batch/v1": BATCH,
             "/apis/authorization.k8s.io/v1": AUTHZ,
             "/version": {"major": "1", "minor": "33", "gitVersion": "v1.33.4"}}


def status(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    """A metav1.Status body, as the API server sends with an error."""
    out = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code}
    if details:
        out["details"] = details
    return out


def event(kind: str, obj: dict) -> str:
    return json.dumps({"type": kind, "object": obj})


class APIServer:
    """Scripted answers per path: each is ("json", code, body) or ("stream", lines, cut)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple]] = defaultdict(list)
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:
                pass

            def _answer(self) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if url.path in DISCOVERY:
                    return self._json(200, DISCOVERY[url.path])
                server.requests.append((self.command, url.path, query))
                queue = server.answers.get(f"{self.command} {url.path}")
                if not queue:
                    return self._json(500, status(500, "InternalError", f"no scripted answer for {url.path}"))
                answer = queue.pop(0)
                if answer[0] == "json":
                    return self._json(answer[1], answer[2])
                _kind, lines, cut = answer
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for line in lines:
                    data = (line + "\n").encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                if cut:                      # the connection drops mid-stream
                    self.wfile.write(b"5\r\n{\"ty")
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(b"0\r\n\r\n")

            def _json(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = do_POST = do_DELETE = do_PUT = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "APIServer":
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def script(self, method: str, path: str, *answers: tuple) -> None:
        self.answers[f"{method} {path}"].extend(answers)

    def kube(self, cache_dir, namespace: str = "lima-kit"):
        """The kit's Kube over the real kubernetes client (its own discovery included),
        pointed at this server; `cache_dir` keeps the discovery cache apart per test."""
        from kubernetes import client, dynamic

        from kit.cluster.kube import Kube

        api = client.ApiClient(client.Configuration(host=self.url))
        dyn = dynamic.DynamicClient(api, cache_file=str(cache_dir / "discovery.json"))
        return Kube(dyn, client.CoreV1Api(api), namespace)
