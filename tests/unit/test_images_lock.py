"""`kit images lock` against a registry speaking the v2 token flow on loopback."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kit.errors import KitError
from kit.images import IMAGES, import_lock, load_lock, lock_images, write_lock
from kit.images.registry import resolve_digest
from kit.workdir import Workdir


def digest_of(path: str) -> str:
    return "sha256:" + hashlib.sha256(path.encode()).hexdigest()


class Registry(BaseHTTPRequestHandler):
    tags = {"3.3.7", "v0.33.0", "1.29-alpine", "0.1.0", "v0.17.4", "v1.33.0", "3.11-slim-bookworm",
            "2.9.0-cuda12.8-cudnn9-runtime"}

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/token"):
            body = json.dumps({"token": "anon"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(404)
        self.end_headers()

    def do_HEAD(self) -> None:
        if self.headers.get("Authorization") != "Bearer anon":
            host = self.headers["Host"]
            self.send_response(401)
            self.send_header("WWW-Authenticate",
                             f'Bearer realm="http://{host}/token",service="fake",scope="pull"')
            self.end_headers()
            return
        tag = self.path.rsplit("/", 1)[-1]
        if "/manifests/" not in self.path or tag not in self.tags:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Docker-Content-Digest", digest_of(self.path))
        self.end_headers()


@pytest.fixture(scope="module")
def registry():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def via(registry: str):
    def resolver(repository: str, tag: str) -> str:
        path = repository.partition("/")[2]
        return resolve_digest(f"{registry}/{path}", tag)
    return resolver


def test_resolves_through_the_token_flow(registry):
    digest = resolve_digest(f"{registry}/huggingface/text-generation-inference", "3.3.7")
    assert digest == digest_of("/v2/huggingface/text-generation-inference/manifests/3.3.7")


def test_unknown_tag_is_one_clear_error(registry):
    with pytest.raises(KitError, match="no such tag"):
        resolve_digest(f"{registry}/huggingface/text-generation-inference", "9.9.9")


def test_unreachable_registry_says_where_to_run_it():
    with pytest.raises(KitError) as info:
        resolve_digest("127.0.0.1:9/x/y", "1")
    assert "cannot reach" in info.value.message and "--from" in info.value.hint


def test_lock_writes_every_image_pinned(registry, tmp_path):
    workdir = Workdir(tmp_path / ".kit", "acme")
    refs = write_lock(workdir, None, via(registry))
    assert set(refs) == set(IMAGES)
    assert load_lock(workdir.images_lock) == refs
    for name, ref in refs.items():     # the kit's own images keep the version they were built for
        tagged = f":{IMAGES[name].tag}" if name in ("kit", "trainer") else ""
        assert ref.startswith(IMAGES[name].repository + tagged + "@sha256:")


def test_import_refuses_a_tag(tmp_path):
    bad = tmp_path / "lock.json"
    bad.write_text(json.dumps({"tgi": "ghcr.io/huggingface/text-generation-inference:3.3.7"}))
    with pytest.raises(KitError, match="not pinned by digest"):
        import_lock(Workdir(tmp_path / ".kit", "acme"), bad)
    assert not Workdir(tmp_path / ".kit", "acme").images_lock.exists()


def test_lock_resolves_the_kits_own_images_where_they_were_pushed(registry, tmp_path):
    """`kit images lock --registry` after `kit images push`: kit and trainer from that registry,
    the upstream images unchanged (here from the same loopback registry's paths)."""
    workdir = Workdir(tmp_path / ".kit", "acme")
    refs = lock_images(workdir, names=["kit", "trainer"], registry=f"{registry}/lima-kit")
    tag = IMAGES["kit"].tag
    assert refs["kit"] == f"{registry}/lima-kit/kit:{tag}@" + digest_of(f"/v2/lima-kit/kit/manifests/{tag}")
    assert refs["trainer"].startswith(f"{registry}/lima-kit/trainer:{tag}@sha256:")
    assert load_lock(workdir.images_lock) == refs


def test_a_kit_image_locked_for_another_version_is_known_as_such():
    from kit.images import built_for_another_version

    digest = "@sha256:" + "0" * 64
    assert built_for_another_version("r.example/lima-kit/kit:0.0.9" + digest)
    assert not built_for_another_version(f"r.example/lima-kit/kit:{IMAGES['kit'].tag}" + digest)
    assert not built_for_another_version(f"r.example/lima-kit/trainer:{IMAGES['kit'].tag}-cpu" + digest)
    assert not built_for_another_version("127.0.0.1:5000/lima-kit/kit" + digest)   # reviewed, untagged
