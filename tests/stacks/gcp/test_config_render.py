"""kit.yaml for target gcp as a user writes it: one-line errors naming the YAML path, and the
charts `kit render` produces before anything exists: images through the Artifact Registry
mirror, Workload Identity annotations, an internal load balancer, storage egress to the
restricted VIP only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kit.config import load
from kit.errors import KitError
from kit.infra.driver import secrets_provider
from kit.render import cluster_for, render_objects
from tests.stacks.gcp.conftest import BASE

DIGEST = "@sha256:" + "a" * 64
IMAGES = {"kit": f"ghcr.io/lima-kit/kit:0.1.0{DIGEST}", "trainer": f"ghcr.io/lima-kit/trainer:0.1.0{DIGEST}",
          "tgi": f"ghcr.io/huggingface/text-generation-inference:3.3.7{DIGEST}",
          "proxy": f"docker.io/nginxinc/nginx-unprivileged:1.29-alpine{DIGEST}"}
AR = "us-central1-docker.pkg.dev/acme-ml-prod/acme-notes"


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "kit.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_missing_project_names_gcp_project(tmp_path):
    raw = {k: v for k, v in BASE.items() if k != "gcp"}
    with pytest.raises(KitError) as err:
        load(_write(tmp_path, raw))
    assert err.value.one_line().startswith(f"{tmp_path / 'kit.yaml'}:1: gcp.project: required for target gcp")


@pytest.mark.parametrize(("gcp", "message"), [
    ({"project": "acme-ml-prod", "network": "vpc"}, "gcp.network: an existing network needs both"),
    ({"project": "acme-ml-prod", "master_cidr": "172.16.0.0/24"}, "gcp.master_cidr: 172.16.0.0/24 must be a /28"),
    ({"project": "acme-ml-prod", "pods_cidr": "10.42.0.0/16"}, "gcp.pods_cidr: 10.42.0.0/16 overlaps gcp.subnet_cidr"),
    ({"project": "Acme"}, "gcp.project"),
    ({"project": "acme-ml-prod", "zone": "a"}, "gcp.zone: unknown key"),
])
def test_bad_gcp_options_are_one_line_errors(tmp_path, gcp, message):
    with pytest.raises(KitError) as err:
        load(_write(tmp_path, {**BASE, "gcp": gcp}))
    assert message in err.value.one_line() and "\n" not in err.value.one_line()


def _objects(tmp_path: Path, **changes) -> list[dict]:
    cfg = load(_write(tmp_path, {**BASE, **changes}))
    return [o for objs in render_objects(cfg, cluster_for(cfg), images=IMAGES).values() for o in objs]


def _containers(objects: list[dict]) -> list[dict]:
    out = []
    for o in objects:
        spec = o.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get(
            "template", {}).get("spec") or {}
        out += pod.get("containers", []) + pod.get("initContainers", [])
    return out


def test_render_pulls_every_image_through_artifact_registry(tmp_path):
    images = {c["image"] for c in _containers(_objects(tmp_path))}
    assert images == {
        f"{AR}/kit:0.1.0{DIGEST}", f"{AR}/trainer:0.1.0{DIGEST}",
        f"{AR}/ghcr/huggingface/text-generation-inference:3.3.7{DIGEST}",
        f"{AR}/docker-hub/nginxinc/nginx-unprivileged:1.29-alpine{DIGEST}"}


def test_render_binds_workload_identity_and_an_internal_load_balancer(tmp_path):
    objects = _objects(tmp_path)
    accounts = {o["metadata"]["name"]: o["metadata"].get("annotations", {})
                for o in objects if o["kind"] == "ServiceAccount"}
    assert accounts["acme-notes-finetune"] == {
        "iam.gke.io/gcp-service-account": "acme-notes-trainer@acme-ml-prod.iam.gserviceaccount.com"}
    assert accounts["acme-notes-server"] == {
        "iam.gke.io/gcp-service-account": "acme-notes-server@acme-ml-prod.iam.gserviceaccount.com"}
    # The engine that sees prompts has no Google identity at all.
    assert accounts["acme-notes-engine"] == {}
    (lb,) = [o for o in objects if o["kind"] == "Service" and o["spec"].get("type") == "LoadBalancer"]
    assert lb["metadata"]["annotations"]["networking.gke.io/load-balancer-type"] == "Internal"


def test_storage_egress_reaches_the_restricted_vip_and_the_metadata_server_only(tmp_path):
    (policy,) = [o for o in _objects(tmp_path) if o["kind"] == "NetworkPolicy"
                 and o["metadata"]["name"] == "allow-storage"]
    rules = [(r["to"][0]["ipBlock"]["cidr"], r["ports"][0]["port"]) for r in policy["spec"]["egress"]]
    assert rules == [("199.36.153.4/30", 443), ("169.254.169.254/32", 80), ("169.254.169.252/32", 988)]


def test_state_in_gcs_uses_the_projects_kms_key(tmp_path):
    cfg = load(_write(tmp_path, {**BASE, "state": "gs://acme-pulumi-state/lima-kit"}))
    assert secrets_provider(cfg) == ("gcpkms://projects/acme-ml-prod/locations/us-central1/keyRings/"
                                     "lima-kit-state/cryptoKeys/state")


def test_offline_plan_json_without_credentials_or_cli(tmp_path):
    path = _write(tmp_path, {**BASE, "network": {"egress": True, "operator_cidrs": ["203.0.113.0/24"]}})
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1",
           "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"), "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "none"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[3])}   # this checkout's code
    proc = subprocess.run([sys.executable, "-m", "kit", "plan", "--offline", "-f", str(path), "--output", "json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    types = {r["type"] for r in data["resources"]}
    assert {"gcp:container/cluster:Cluster", "gcp:container/nodePool:NodePool", "gcp:storage/bucket:Bucket",
            "gcp:compute/routerNat:RouterNat", "kubernetes:core/v1:Namespace"} <= types
    for r in data["resources"]:
        assert set(r) >= {"type", "name", "inputs", "protect", "retain_on_delete"}
    assert data["outputs"]["kubeconfig"] in ("[secret]", "[redacted]")
    assert "\x1b[" not in proc.stdout


def test_init_takes_the_project_from_the_environment_or_says_what_is_missing(tmp_path, monkeypatch):
    from kit.scaffold import write_config

    args = dict(name="acme-notes", target="gcp", model="meta-llama/Llama-3.1-8B-Instruct",
                data="gs://acme-clinical-notes/sft/", method="lora", region=None)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    with pytest.raises(KitError) as err:
        write_config(tmp_path / "kit.yaml", **args)
    assert err.value.one_line().startswith("kit init --target gcp: GOOGLE_CLOUD_PROJECT is not set")
    assert not (tmp_path / "kit.yaml").exists()
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "acme-ml-prod")
    cfg = load(write_config(tmp_path / "kit.yaml", **args))
    assert (cfg.gcp.project, cfg.region) == ("acme-ml-prod", "us-central1")


def test_the_example_plans_offline():
    from tests.stacks.gcp.conftest import plan_of

    cfg = load(Path(__file__).parents[3] / "examples" / "gcp" / "kit.yaml")
    plan = plan_of(cfg)
    gpu = plan.one("gcp:container/nodePool:NodePool", "gpu")["inputs"]["nodeConfig"]
    assert gpu["machineType"] == "g2-standard-4"
