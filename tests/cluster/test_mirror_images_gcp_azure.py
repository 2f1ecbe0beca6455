"""`kit up` on GCP and Azure copies every upstream image the cluster runs into the stack's
registry at its locked digest before any chart is applied: the API-key proxy, the serving
engine, and the stack's own (the NVIDIA device plugin on Azure; none on GKE, whose driver,
device plugin and autoscaler are its own). No pull-through cache has to be primed on first
pull (issue 23). Driven through ClusterTarget.up() with fake dependencies: the Pulumi stack
answers its outputs, the copy and the registry login are recorded; the data phase after the
mirror then stops the run (no bucket credentials here), which is where this test ends."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from kit.cluster.preflight import images_lock
from kit.cluster.target import ClusterTarget
from kit.errors import KitError
from stacks.contract import ClusterOutputs
from tests.cluster.conftest import make
from tests.cluster.fakes import fake_deps

DIGEST = "sha256:" + "1" * 64
AR = "us-central1-docker.pkg.dev/acme-ml-prod/acme-notes"
ACR = "lkacmenotes0123456789.azurecr.io"
GCP = {"name": "acme-notes", "target": "gcp", "region": "us-central1",
       "gcp": {"project": "acme-ml-prod", "accept_no_perimeter": "a test of the mirror phase"},
       "model": {"id": "gs://acme-models/llama/"}, "data": {"uri": "gs://acme-clinical-notes/sft/"},
       "gpu": {"type": "l4", "count": 1, "max_nodes": 1}}
AZURE = {"name": "acme-notes", "target": "azure", "region": "eastus2",
         "azure": {"subscription_id": "11111111-2222-3333-4444-555555555555",
                   "data_resource_group": "acme-data"},
         "model": {"id": "https://acmemodels.blob.core.windows.net/models/llama/"},
         "data": {"uri": "https://acmeclinical.blob.core.windows.net/notes/sft/"},
         "gpu": {"type": "h100", "count": 8, "max_nodes": 1}}
UPSTREAM = {"proxy": f"docker.io/nginxinc/nginx-unprivileged@{DIGEST}",
            "tgi": f"ghcr.io/huggingface/text-generation-inference@{DIGEST}",
            "vllm": f"docker.io/vllm/vllm-openai@{DIGEST}",
            "device-plugin": f"nvcr.io/nvidia/k8s-device-plugin@{DIGEST}"}


class Stack:
    """The Pulumi stack as `kit up` sees it: it answers the outputs the cloud's stack exports."""

    def __init__(self, cloud: str, prefix: str) -> None:
        self.outputs = ClusterOutputs(cloud=cloud, cluster_name="acme-notes",
                                      artifacts_uri="gs://a", models_uri="gs://m",
                                      registry_prefix=prefix)

    def up(self):
        return self.outputs, {"create": 40}


def up(cfg, prefix: str, monkeypatch) -> tuple[list, list, str, dict]:
    """Run `kit up` with the stack, copy and login faked; returns (copies, logins, output, phases)."""
    # no bucket credentials: the data phase, right after the mirror, stops the run quickly
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(cfg.base_dir / "no-such-key.json"))
    cfg.workdir.root.mkdir(parents=True, exist_ok=True)
    own = {"kit": f"{prefix}/kit:0.1.0@{DIGEST}", "trainer": f"{prefix}/trainer:0.1.0@{DIGEST}"}
    cfg.workdir.images_lock.write_text(json.dumps({**UPSTREAM, **own}))
    copies: list = []
    logins: list = []

    def login(_cfg, registry):
        logins.append(registry)
        return ("user", f"token-for-{registry}")

    def copy(source, dest, tag, *, credentials):
        copies.append((source, dest, tag, credentials))
        return True

    target = ClusterTarget(cfg, fake_deps(cfg, checks=lambda _c: [],
                                          infra=lambda _console: Stack(cfg.target, prefix),
                                          copy=copy, registry_login=login))
    out = io.StringIO()
    with pytest.raises(KitError):
        target.up(Console(file=out, width=400))
    phases = json.loads(cfg.workdir.state.read_text())["phases"]
    return copies, logins, out.getvalue(), phases


@pytest.mark.parametrize("engine", ["tgi", "vllm"])
def test_gcp_copies_the_proxy_and_the_engine_into_artifact_registry(tmp_path, monkeypatch, engine):
    cfg = make(GCP, tmp_path, serving={"engine": engine})
    copies, logins, out, phases = up(cfg, AR, monkeypatch)
    token = ("user", f"token-for-{AR}")
    engine_path = {"tgi": "ghcr/huggingface/text-generation-inference",
                   "vllm": "docker-hub/vllm/vllm-openai"}[engine]
    engine_tag = {"tgi": "3.3.7", "vllm": "v0.33.0"}[engine]
    assert copies == [
        (UPSTREAM["proxy"], f"{AR}/docker-hub/nginxinc/nginx-unprivileged", "1.29-alpine-111111111111", token),
        (UPSTREAM[engine], f"{AR}/{engine_path}", f"{engine_tag}-111111111111", token)]
    assert set(logins) == {AR}
    assert f"copied {UPSTREAM['proxy']} → {AR}/docker-hub/nginxinc/nginx-unprivileged" in out
    # the mirror phase finished (its weights are read from their bucket: "skipped") before the
    # data phase stopped
    assert phases["mirror"]["status"] == "skipped" and phases["data"]["status"] == "failed"
    assert phases["fine-tune"]["status"] == "pending"


def test_azure_copies_the_device_plugin_proxy_and_engine_into_acr(tmp_path, monkeypatch):
    cfg = make(AZURE, tmp_path)
    copies, logins, _out, phases = up(cfg, ACR, monkeypatch)
    token = ("user", f"token-for-{ACR}")
    assert copies == [
        (UPSTREAM["device-plugin"], f"{ACR}/nvidia-device-plugin", "v0.17.4-111111111111", token),
        (UPSTREAM["proxy"], f"{ACR}/docker-hub/nginxinc/nginx-unprivileged", "1.29-alpine-111111111111", token),
        (UPSTREAM["tgi"], f"{ACR}/ghcr/huggingface/text-generation-inference", "3.3.7-111111111111", token)]
    assert set(logins) == {ACR}
    assert phases["mirror"]["status"] == "skipped" and phases["fine-tune"]["status"] == "pending"


@pytest.mark.parametrize("base", [GCP, AZURE], ids=["gcp", "azure"])
def test_doctor_asks_for_skopeo_as_every_upstream_is_copied(tmp_path, monkeypatch, base):
    cfg = make(base, tmp_path)
    cfg.workdir.root.mkdir(parents=True, exist_ok=True)
    cfg.workdir.images_lock.write_text(json.dumps(UPSTREAM))
    monkeypatch.setenv("PATH", str(tmp_path))          # no skopeo here
    check = images_lock(cfg)
    assert not check.ok
    assert check.detail.startswith("skopeo not found: `kit up` copies every upstream image")
    assert "skopeo" in check.fix
