"""A Hugging Face Hub stand-in on loopback, for huggingface_hub's real client (HF_ENDPOINT).

It answers the calls `snapshot_download` makes (huggingface_hub 2.x, read in its
_snapshot_download.py / hf_api.py / file_download.py on 2026-12-07):
- GET  /api/models/{id}/revision/{rev}       -> repo info: {"id", "sha", "siblings"}
- GET  /api/models/{id}/tree/{sha}?recursive -> [{"type": "file", "path", "size", "oid"}]
- HEAD /{id}/resolve/{sha}/{file}            -> X-Repo-Commit, ETag, Content-Length
- GET  /{id}/resolve/{sha}/{file}            -> the bytes
An unknown repo, or a gated one asked without its token, is a 401 with `X-Error-Code:
RepoNotFound` / 403 `GatedRepo`, as the hub answers. Every request is recorded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.tokens: dict[str, str] = {}  # gated repo -> the token it needs
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, authorization)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                hub._answer(self, body=False)

            def do_GET(self) -> None:
                hub._answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, repo: str, folder: Path, extra: dict[str, bytes] | None = None,
            token: str | None = None) -> None:
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        self.repos[repo] = {**files, **(extra or {})}
        if token:
            self.tokens[repo] = token

    def sha(self, repo: str) -> str:
        return hashlib.sha1(repo.encode()).hexdigest()  # a 40-hex commit id

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _send(self, handler, status: int, body: bytes, headers: dict[str, str], send: bool) -> None:
        handler.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **headers}.items():
            handler.send_header(key, value)
        handler.end_headers()
        if send:
            handler.wfile.write(body)

    def _answer(self, handler, body: bool) -> None:
        url = urlparse(handler.path)
        path = unquote(url.path)
        auth = handler.headers.get("Authorization")
        self.requests.append((handler.command, path, auth))
        repo, kind, rest = self._route(path)
        if repo not in self.repos:
            return self._send(handler, 401, b'{"error": "Repository not found"}',
                              {"X-Error-Code": "RepoNotFound", "Content-Type": "application/json"}, body)
        if repo in self.tokens and auth != f"Bearer {self.tokens[repo]}":
            return self._send(handler, 403, b'{"error": "Access to this model is restricted"}',
                              {"X-Error-Code": "GatedRepo", "Content-Type": "application/json"}, body)
        files, sha = self.repos[repo], self.sha(repo)
        if kind == "info":
            data = {"id": repo, "modelId": repo, "sha": sha, "private": False,
                    "siblings": [{"rfilename": name} for name in sorted(files)]}
        elif kind == "tree":
            data = [{"type": "file", "path": name, "size": len(blob),
                     "oid": hashlib.sha1(blob).hexdigest()} for name, blob in sorted(files.items())]
        elif kind == "file" and rest in files:
            blob = files[rest]
            return self._send(handler, 200, blob, {
                "X-Repo-Commit": sha, "ETag": f'"{hashlib.sha1(blob).hexdigest()}"',
                "Content-Type": "application/octet-stream"}, body)
        else:
            return self._send(handler, 404, b'{"error": "Entry not found"}',
                              {"X-Error-Code": "EntryNotFound", "Content-Type": "application/json"}, body)
        blob = json.dumps(data).encode()
        return self._send(handler, 200, blob, {"Content-Type": "application/json"}, body)

    def _route(self, path: str) -> tuple[str, str, str]:
        """(repo id, "info" | "tree" | "file", file name) of a request path."""
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"]:
            repo = "/".join(parts[2:4])
            return repo, {"revision": "info", "tree": "tree"}.get(parts[4] if len(parts) > 4 else "", "?"), ""
        if len(parts) >= 5 and parts[2] == "resolve":
            return "/".join(parts[:2]), "file", "/".join(parts[4:])
        return "", "?", ""
