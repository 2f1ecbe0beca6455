"""`kit doctor` asks the hub, before anything is created, whether this machine may read the base
model: one authenticated HEAD of config.json through huggingface_hub, honouring HF_ENDPOINT
and HF_TOKEN. A gated model without an accepted licence or a token fails in one line with the
fix; a readable one passes. The hub is a fake on loopback answering as huggingface.co does: a
gated repository answers 401 (no token) or 403 (a token without access) with
`X-Error-Code: GatedRepo` (the header huggingface_hub's hf_raise_for_status reads)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kit.cluster.hub_access import model_access
from tests.conftest import run_kit
from tests.stacks.conftest import make_cfg

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


class FakeHub:
    def __init__(self, status: int, gated: bool = False):
        self.status, self.gated, self.seen = status, gated, []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self):  # noqa: N802
                hub.seen.append((self.path, self.headers.get("authorization")))
                self.send_response(hub.status)
                if hub.status == 200:
                    self.send_header("ETag", '"abc123"')
                    self.send_header("X-Repo-Commit", "0" * 40)
                elif hub.gated:
                    self.send_header("X-Error-Code", "GatedRepo")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hub(monkeypatch, tmp_path):
    made: list[FakeHub] = []
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))       # no token saved by `hf auth login`

    def make(status: int, gated: bool = False) -> FakeHub:
        made.append(FakeHub(status, gated))
        monkeypatch.setenv("HF_ENDPOINT", made[-1].url)
        return made[-1]

    yield make
    for h in made:
        h.server.shutdown()
        h.server.server_close()


def test_a_readable_model_passes(hub, monkeypatch):
    fake = hub(200)
    monkeypatch.setenv("HF_TOKEN", "hf_readtoken")
    check = model_access(make_cfg())
    assert check.ok, check.line()
    assert fake.seen == [(f"/{MODEL}/resolve/main/config.json", "Bearer hf_readtoken")]


@pytest.mark.parametrize(("status", "token", "who"), [
    (401, None, "no token is set"),
    (403, "hf_other", "has not been granted it"),
])
def test_a_gated_model_fails_in_one_line_with_the_fix(hub, monkeypatch, status, token, who):
    fake = hub(status, gated=True)
    if token:
        monkeypatch.setenv("HF_TOKEN", token)
    check = model_access(make_cfg())
    assert not check.ok
    line = check.line()
    assert "\n" not in line and f"HTTP {status}" in line and who in line
    assert f"accept the licence on the model page ({fake.url}/{MODEL})" in check.fix
    assert "HF_TOKEN" in check.fix


@pytest.mark.parametrize("status", [401, 403])
def test_a_plain_401_or_403_reads_the_same(hub, status):
    """A hub mirror (HF_ENDPOINT) may answer without huggingface.co's error headers."""
    hub(status)
    check = model_access(make_cfg())
    assert not check.ok and "gated or private" in check.detail and "licence" in check.fix


def test_a_missing_model_or_revision_says_so(hub):
    hub(404)
    check = model_access(make_cfg(model={"id": MODEL, "revision": "no-such-branch"}))
    assert not check.ok and "not found" in check.detail and "model.revision" in check.fix


def test_a_model_in_a_bucket_is_not_asked_of_the_hub(hub):
    fake = hub(500)
    check = model_access(make_cfg(model={"id": "s3://acme-kit-models/llama-3.1-8b/"}))
    assert check.ok and fake.seen == []


def test_kit_doctor_prints_the_gated_model_on_one_line(hub, tmp_path):
    """Through the CLI, as a user runs it: HF_ENDPOINT reaches the child process."""
    import os

    import yaml

    from tests.stacks.conftest import BASE

    fake = hub(401, gated=True)
    path = tmp_path / "kit.yaml"
    path.write_text(yaml.safe_dump({**BASE, "network": {"operator_cidrs": ["203.0.113.7/32"]}}))
    proc = run_kit("doctor", "-f", str(path), env={
        "HF_ENDPOINT": fake.url, "HF_HOME": os.environ["HF_HOME"], "HOME": str(tmp_path),
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "COLUMNS": "300"}, timeout=120)
    assert proc.returncode == 1
    (line,) = [ln for ln in proc.stdout.splitlines() if "model access" in ln]
    assert "✗" in line and "HTTP 401" in line and "accept the licence" in line
    assert fake.seen and fake.seen[0][0] == f"/{MODEL}/resolve/main/config.json"


def test_offline_the_hub_is_never_asked_and_the_cache_decides(tmp_path, monkeypatch):
    """HF_HUB_OFFLINE=1 (huggingface_hub's own switch): no request leaves the machine; the
    check passes only when the model's config is in this machine's hub cache."""
    from huggingface_hub import constants

    from kit.cluster.hub_access import model_access
    from tests.cluster.conftest import AWS, make

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")       # would refuse if asked
    cfg = make(AWS, tmp_path)
    check = model_access(cfg)
    assert not check.ok and "HF_HUB_OFFLINE=1 and not in this machine's hub cache" in check.detail
    snapshot = tmp_path / "hub" / "models--meta-llama--Llama-3.1-8B-Instruct"
    (snapshot / "refs").mkdir(parents=True)
    (snapshot / "refs" / "main").write_text("a" * 40)
    (snapshot / "snapshots" / ("a" * 40)).mkdir(parents=True)
    (snapshot / "snapshots" / ("a" * 40) / "config.json").write_text("{}")
    assert model_access(cfg).ok
