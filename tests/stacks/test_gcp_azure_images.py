"""GCP and Azure: every upstream image the cluster runs is copied into the stack's private
registry at its locked digest, never fetched by a pull-through cache on first pull (issue 23).
The offline plans show no Artifact Registry remote repository and no ACR cache rule for an
image of the kit's (only AKS's own mcr.microsoft.com bootstrap rule, which a network-isolated
AKS cluster with its own registry requires: https://learn.microsoft.com/en-us/azure/aks/network-isolated,
read 2026-12-07), each image the Kubernetes objects reference lives where the stack's
registry holds it, and on Azure the stack copies the device plugin before the DaemonSet that
runs it can be applied."""

from __future__ import annotations

import json
import re

import pytest

from kit.config import parse
from kit.infra.plan import offline_plan

DIGEST = "sha256:" + "d" * 64
AR = "us-central1-docker.pkg.dev/acme-ml-prod/acme-notes"
COPY = "pulumi-python:dynamic/kit:ImageCopy"
DAEMONSET = ("kubernetes:apps/v1:DaemonSet", "daemonset:kube-system/nvidia-device-plugin")
UPSTREAM = {"device-plugin": f"nvcr.io/nvidia/k8s-device-plugin@{DIGEST}",
            "proxy": f"docker.io/nginxinc/nginx-unprivileged@{DIGEST}",
            "tgi": f"ghcr.io/huggingface/text-generation-inference@{DIGEST}",
            "vllm": f"docker.io/vllm/vllm-openai@{DIGEST}"}


def _base(cloud: str) -> dict:
    if cloud == "gcp":
        pytest.importorskip("pulumi_gcp")
        from tests.stacks.gcp.conftest import BASE
    else:
        pytest.importorskip("pulumi_azure_native")
        from tests.stacks.azure.conftest import BASE
    return json.loads(json.dumps(BASE))


def _prefix(cloud: str) -> str:
    if cloud == "gcp":
        return AR
    from stacks.azure.names import registry_prefix
    from tests.stacks.azure.conftest import SUB

    return registry_prefix("acme-notes", SUB)


def cfg_in(tmp_path, cloud: str, lock: dict[str, str] | None, engine: str = "tgi"):
    raw = _base(cloud)
    raw["serving"] = {"engine": engine}
    cfg = parse(raw, base_dir=tmp_path)
    if lock is not None:
        prefix = _prefix(cloud)
        own = {"kit": f"{prefix}/kit:0.0.0@{DIGEST}", "trainer": f"{prefix}/trainer:0.0.0@{DIGEST}"}
        cfg.workdir.root.mkdir(parents=True, exist_ok=True)
        cfg.workdir.images_lock.write_text(json.dumps({**lock, **own}))
    return cfg


def pulled(plan) -> set[str]:
    text = json.dumps([r["inputs"] for r in plan.resources if r["type"].startswith("kubernetes:")])
    return set(re.findall(r'"image": "([^"]+)"', text))


@pytest.mark.parametrize("engine", ["tgi", "vllm"])
def test_gcp_pulls_every_image_from_the_one_standard_repository(tmp_path, engine):
    plan = offline_plan(cfg_in(tmp_path, "gcp", UPSTREAM, engine), run_id="ft-abc")
    repos = [r["inputs"] for r in plan.of_type("gcp:artifactregistry/repository:Repository")]
    assert [(r["repositoryId"], r["mode"]) for r in repos] == [("acme-notes", "STANDARD_REPOSITORY")]
    assert "remoteRepositoryConfig" not in repos[0]
    assert [r["inputs"]["vpcscPolicy"] for r in plan.of_type(
        "gcp:artifactregistry/vpcscConfig:VpcscConfig")] == ["DENY"]
    images = pulled(plan)
    # the run's trainer, kit, proxy and engine (GKE's driver and device plugin are its own)
    assert {i.split("@")[0].rsplit(":", 1)[0] for i in images} == {
        f"{AR}/trainer", f"{AR}/kit", f"{AR}/docker-hub/nginxinc/nginx-unprivileged",
        f"{AR}/ghcr/huggingface/text-generation-inference" if engine == "tgi"
        else f"{AR}/docker-hub/vllm/vllm-openai"}
    for image in images:
        assert image.endswith(f"@{DIGEST}"), image
    # GKE runs none of the stack's own: nothing for the program to copy
    assert plan.of_type(COPY) == []


@pytest.mark.parametrize("engine", ["tgi", "vllm"])
def test_azure_pulls_every_image_from_the_registry_and_caches_none_of_the_kits(tmp_path, engine):
    prefix = _prefix("azure")
    plan = offline_plan(cfg_in(tmp_path, "azure", UPSTREAM, engine), run_id="ft-abc")
    images = pulled(plan)
    assert {i.split("@")[0].rsplit(":", 1)[0] for i in images} == {
        f"{prefix}/trainer", f"{prefix}/kit", f"{prefix}/nvidia-device-plugin",
        f"{prefix}/docker-hub/nginxinc/nginx-unprivileged",
        f"{prefix}/ghcr/huggingface/text-generation-inference" if engine == "tgi"
        else f"{prefix}/docker-hub/vllm/vllm-openai"}
    for image in images:
        assert image.endswith(f"@{DIGEST}"), image
    rules = [r["inputs"] for r in plan.of_type("azure-native:containerregistry:CacheRule")]
    assert [(r["sourceRepository"], r["targetRepository"]) for r in rules] == [
        ("mcr.microsoft.com/*", "aks-managed-repository/*")]
    for image in images:     # no image of the kit's under the cache rule's repositories
        assert not image.removeprefix(prefix + "/").startswith("aks-managed-repository/"), image


def test_azure_copies_the_device_plugin_before_any_kubernetes_object_can_use_it(tmp_path):
    prefix = _prefix("azure")
    plan = offline_plan(cfg_in(tmp_path, "azure", UPSTREAM))
    (copy,) = plan.of_type(COPY)
    assert copy["name"] == "copy-device-plugin"
    assert {k: v for k, v in copy["inputs"].items() if k != "__provider"} == {
        "source": UPSTREAM["device-plugin"], "destination": f"{prefix}/nvidia-device-plugin",
        "tag": "v0.17.4-dddddddddddd", "login": "stacks.azure.registry_login:login"}
    registry = plan.one("azure-native:containerregistry:Registry")["urn"]
    push = [r["urn"] for r in plan.of_type("azure-native:authorization:RoleAssignment")
            if r["name"] == "operator-acr-push"]
    assert sorted(copy["depends_on"]) == sorted([registry, *push]) and len(push) == 1
    provider = plan.one("pulumi:providers:kubernetes", "aks")
    assert copy["urn"] in provider["depends_on"]
    assert "pulumi:providers:kubernetes::aks::" in plan.one(*DAEMONSET)["provider"]
    image = plan.one(*DAEMONSET)["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"{prefix}/nvidia-device-plugin@{DIGEST}"


def test_azure_plan_before_the_lock_copies_nothing(tmp_path):
    assert offline_plan(cfg_in(tmp_path, "azure", None)).of_type(COPY) == []


@pytest.fixture
def copies(monkeypatch):
    pytest.importorskip("pulumi_azure_native")
    import kit.images.copy
    import stacks.azure.registry_login

    made: list = []
    monkeypatch.setattr(kit.images.copy, "copy_image",
                        lambda source, dest, tag, *, credentials: made.append(
                            (source, dest, tag, credentials)) or True)
    monkeypatch.setattr(stacks.azure.registry_login, "login",
                        lambda registry: ("00000000-0000-0000-0000-000000000000", f"acr:{registry}"))
    return made


def test_the_azure_copy_runs_skopeo_with_an_acr_login_and_deletes_nothing(copies):
    from stacks.cluster_layer.image_copy import _Copy

    dest = "lkacmenotes0123456789.azurecr.io/nvidia-device-plugin"
    props = {"source": UPSTREAM["device-plugin"], "destination": dest, "tag": "v0.17.4-dddddddddddd",
             "login": "stacks.azure.registry_login:login"}
    result = _Copy().create(props)
    assert copies == [(UPSTREAM["device-plugin"], dest, "v0.17.4-dddddddddddd",
                       ("00000000-0000-0000-0000-000000000000", f"acr:{dest}"))]
    assert result.id == f"{dest}@{DIGEST}"
    moved = {**props, "source": props["source"].replace("d" * 64, "e" * 64), "tag": "v0.17.4-eeeeeeeeeeee"}
    assert sorted(_Copy().diff("id", props, moved).replaces) == ["source", "tag"]
    assert _Copy().delete("id", props) is None and len(copies) == 1


def test_a_copy_refused_while_the_push_grant_propagates_is_retried():
    """Azure RBAC takes minutes to honour a new role assignment: a copy refused meanwhile runs
    again after a wait (CloudSupport.propagation_errors), as ARM's own refusals do."""
    from stacks.azure import SUPPORT

    refused = ("copy nvcr.io/nvidia/k8s-device-plugin into lkacme.azurecr.io/nvidia-device-plugin "
               "failed: Error: writing blob: unauthorized: authentication required")
    assert any(re.search(p, refused) for p in SUPPORT.propagation_errors)
    unrelated = ("copy nvcr.io/nvidia/k8s-device-plugin into lkacme.azurecr.io/nvidia-device-plugin "
                 "failed: Error: initializing source: manifest unknown")
    assert not any(re.search(p, unrelated) for p in SUPPORT.propagation_errors)


@pytest.mark.parametrize("cloud", ["gcp", "azure"])
def test_the_examples_offline_plans_cache_no_image_of_the_kits(tmp_path, cloud):
    """`kit plan --offline --output json` on the shipped example, as a user runs it: the
    registry the copies go to exists, and no remote repository or cache rule serves an image
    the charts reference."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    _base(cloud)     # skips without the cloud's extra
    example = Path(__file__).resolve().parents[2] / "examples" / cloud / "kit.yaml"
    shutil.copy(example, tmp_path / "kit.yaml")
    proc = subprocess.run([sys.executable, "-m", "kit", "plan", "--offline", "-f", "kit.yaml",
                           "--output", "json"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    resources = json.loads(proc.stdout)["resources"]

    def of(typ: str) -> list[dict]:
        return [r["inputs"] for r in resources if r["type"] == typ]

    if cloud == "gcp":
        repos = of("gcp:artifactregistry/repository:Repository")
        assert [(r["repositoryId"], r["mode"]) for r in repos] == [("acme-notes", "STANDARD_REPOSITORY")]
        assert [r["vpcscPolicy"] for r in of("gcp:artifactregistry/vpcscConfig:VpcscConfig")] == ["DENY"]
    else:
        assert len(of("azure-native:containerregistry:Registry")) == 1
        assert [(r["sourceRepository"], r["targetRepository"])
                for r in of("azure-native:containerregistry:CacheRule")] == [
            ("mcr.microsoft.com/*", "aks-managed-repository/*")]
