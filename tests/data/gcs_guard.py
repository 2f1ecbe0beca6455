"""A Cloud Storage endpoint that answers as GCS does to an identity holding only create, get
and list (the GCP trainer's roles, stacks/gcp/identity.py): a proxy in front of the emulator.

- a delete is refused (403), as is a metadata update (PATCH/PUT on an object), a copy or rewrite;
- a write (upload, compose) to a name that exists is refused: 412 when the request carries
  ifGenerationMatch=0 (the precondition is not met), 403 otherwise, because replacing an object
  needs storage.objects.delete
  (https://cloud.google.com/storage/docs/access-control/iam-permissions, read 2026-12-07).

gcp-storage-emulator ignores preconditions and permissions, so this is what makes a test able
to fail on an overwrite. Every refusal is recorded.
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class Guard:
    def __init__(self, backend_port: int) -> None:
        self.backend = backend_port
        self.refused: list[tuple[str, str, int]] = []  # (method, object or path, status)
        self.lock = threading.Lock()
        guard = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status = guard.check(self.command, self.path, self.headers.get("Content-Type", ""), body)
                if status:
                    data = json.dumps({"error": {"code": status, "message": "refused by the guard",
                                                 "errors": [{"message": "refused"}]}}).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", guard.backend, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in _HOP:
                        if key.lower() == "location":  # resumable sessions come back through here
                            value = value.replace(f":{guard.backend}", f":{guard.port}")
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _exists(self, bucket: str, name: str) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.backend, timeout=30)
        conn.request("GET", f"/storage/v1/b/{bucket}/o/{quote(name, safe='')}")
        status = conn.getresponse().status
        conn.close()
        return status == 200

    def _refuse(self, method: str, what: str, status: int) -> int:
        with self.lock:
            self.refused.append((method, what, status))
        return status

    @staticmethod
    def _upload_name(query: dict, content_type: str, body: bytes) -> str | None:
        """The object an upload request creates: in the query, or in its JSON metadata (the
        whole body of a resumable start, the first part of a multipart upload)."""
        if "name" in query:
            return query["name"][0]
        meta = body
        if content_type.startswith("multipart/"):
            boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
            meta = body.split(b"--" + boundary)[1].split(b"\r\n\r\n", 1)[1]
        try:
            return json.loads(meta)["name"]
        except (ValueError, KeyError, TypeError):
            return None

    def check(self, method: str, path: str, content_type: str = "", body: bytes = b"") -> int:
        """0 to forward the request, else the status GCS would answer."""
        url = urlsplit(path)
        query = parse_qs(url.query)
        parts = [unquote(p) for p in url.path.split("/")]
        precondition = query.get("ifGenerationMatch") == ["0"]
        if method == "DELETE":
            return self._refuse(method, unquote(url.path), 403)
        # /upload/storage/v1/b/<bucket>/o: a new upload (multipart, or a resumable one's start)
        if method == "POST" and parts[1:5] == ["upload", "storage", "v1", "b"] \
                and "upload_id" not in query:
            bucket, name = parts[5], self._upload_name(query, content_type, body)
            if name is None:
                return self._refuse("upload", "(no object name)", 400)
            if self._exists(bucket, name):
                return self._refuse("upload", name, 412 if precondition else 403)
            return 0
        # /storage/v1/b/<bucket>/o/<name>[/compose|/copyTo|/rewriteTo]
        if parts[1:4] == ["storage", "v1", "b"] and len(parts) >= 7 and parts[5] == "o":
            bucket, name = parts[4], "/".join(parts[6:])
            if method == "POST" and name.endswith("/compose"):
                name = name[:-len("/compose")]
                if self._exists(bucket, name):
                    return self._refuse("compose", name, 412 if precondition else 403)
                return 0
            if method in ("PATCH", "PUT") or "/copyTo/" in name or "/rewriteTo/" in name:
                return self._refuse(method, name, 403)
        return 0
