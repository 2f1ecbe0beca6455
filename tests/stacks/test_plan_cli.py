"""`kit plan`: offline with no credentials and no Pulumi CLI, as a user runs it; repeatable
in one process; a one-line error when a live preview cannot run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kit.infra.report import ORDER, flatten, to_json
from tests.stacks.conftest import BASE, make_cfg, plan_of


def _clean_env(home: Path) -> dict[str, str]:
    """No AWS_* variables, no credentials file, and a PATH without a `pulumi` binary."""
    path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    assert shutil.which("pulumi", path=path) is None
    return {"PATH": path, "HOME": str(home), "NO_COLOR": "1", "LANG": "C.UTF-8",
            "AWS_CONFIG_FILE": str(home / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "none")}


def _kit(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in env.items() if not (k.startswith("AWS_") and k not in
                                                 ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"))}
    return subprocess.run([sys.executable, "-m", "kit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def kit_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "kit.yaml"
    path.write_text(yaml.safe_dump(BASE), encoding="utf-8")
    return path


def test_offline_plan_json_without_credentials_or_cli(kit_yaml: Path, tmp_path: Path):
    proc = _kit(["plan", "--offline", "-f", str(kit_yaml), "--output", "json"], tmp_path,
                _clean_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    types = {r["type"] for r in data["resources"]}
    assert {"aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:s3/bucket:Bucket",
            "aws:ec2/vpc:Vpc", "kubernetes:core/v1:Namespace"} <= types
    for r in data["resources"]:
        assert set(r) >= {"type", "name", "inputs", "protect", "retain_on_delete"}
    cluster = [r for r in data["resources"] if r["type"] == "aws:eks/cluster:Cluster"][0]
    assert cluster["inputs"]["vpcConfig"]["endpointPublicAccess"] is False
    assert data["outputs"]["kubeconfig"] in ("[secret]", "[redacted]")
    assert "certificate-authority-data" not in proc.stdout


def test_offline_plan_text_groups_by_concern(kit_yaml: Path, tmp_path: Path):
    proc = _kit(["plan", "--offline", "-f", str(kit_yaml)], tmp_path,
                {**_clean_env(tmp_path), "COLUMNS": "160"})
    assert proc.returncode == 0, proc.stderr
    headings = [line.split(" (")[0].strip() for line in proc.stdout.splitlines()
                if line.strip().split(" (")[0] in ORDER and line.strip().endswith(")")]
    assert headings[:5] == ["network", "cluster", "nodes", "storage", "identity"]
    assert "httpPutResponseHopLimit: 1" in proc.stdout
    assert "Deny s3:* on" in proc.stdout  # bucket policies are spelled out per statement


def test_live_plan_without_pulumi_cli_is_one_line(kit_yaml: Path, tmp_path: Path):
    proc = _kit(["plan", "-f", str(kit_yaml)], tmp_path, _clean_env(tmp_path))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Pulumi CLI is not installed" in lines[0] and "--offline" in lines[0]


def test_plans_repeat_identically_in_one_process():
    from kit.infra.plan import offline_plan

    cfg = make_cfg(network={"egress": True})
    first, second = to_json(offline_plan(cfg)), to_json(offline_plan(cfg))
    assert first == second
    assert to_json(plan_of()) != first


def test_local_target_has_nothing_to_plan():
    from kit.errors import KitError
    from kit.infra.plan import offline_plan

    cfg = make_cfg(target="local", region=None, serving={"engine": "transformers"})
    with pytest.raises(KitError, match="nothing to plan"):
        offline_plan(cfg)


def test_kubernetes_target_plans_the_platform_layer_only():
    plan = plan_of(make_cfg(target="kubernetes", kubernetes={"context": "on-prem"},
                            storage={"artifacts_uri": "s3://acme-kit-artifacts",
                                     "models_uri": "s3://acme-kit-models",
                                     "bucket_owner": "123456789012"}))
    assert not [r for r in plan.resources if r["type"].startswith("aws:")]
    provider = plan.one("pulumi:providers:kubernetes")
    assert provider["inputs"]["context"] == "on-prem"
    # The admin made the namespace (operator-rbac.yaml): the kit only labels it, and a plain
    # `kit down` never deletes it. The admin installs the device plugin: nothing in kube-system.
    assert not plan.of_type("kubernetes:core/v1:Namespace")
    patch = plan.one("kubernetes:core/v1:NamespacePatch")
    assert patch["inputs"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert not plan.of_type("kubernetes:apps/v1:DaemonSet")
    assert not [r for r in plan.resources if "kube-system" in r["name"]]


def test_policies_read_as_statements():
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}]})
    assert flatten({"policy": doc}) == ["policy: Allow s3:GetObject on arn:aws:s3:::b/*"]


ESTIMATE_KEYS = {"gpu_type", "instance_type", "nodes", "train_tokens", "train_hours", "train_cost_usd",
                 "serve_usd_per_hour", "price_source", "price_date", "assumptions"}


def test_offline_plan_json_carries_the_estimate(kit_yaml: Path, tmp_path: Path):
    proc = _kit(["plan", "--offline", "-f", str(kit_yaml), "--output", "json", "--examples", "1000"],
                tmp_path, _clean_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    estimate = json.loads(proc.stdout)["estimate"]
    assert ESTIMATE_KEYS <= set(estimate)
    assert estimate["gpu_type"] == BASE["gpu"]["type"] and estimate["instance_type"] == "p5.48xlarge"
    assert estimate["train_tokens"] > 1000 * 750 and estimate["train_hours"] > 0
    assert estimate["assumptions"][0] == "1,000 examples (--examples) x 750 tokens (LIMA's mean)"


def test_up_on_a_cloud_shows_the_estimate_and_asks_first(tmp_path: Path):
    kit_yaml = tmp_path / "kit.yaml"                     # with an operator path: no blocker
    kit_yaml.write_text(yaml.safe_dump({**BASE, "network": {"operator_cidrs": ["203.0.113.7/32"]}}))
    proc = _kit(["up", "-f", str(kit_yaml)], tmp_path, _clean_env(tmp_path))   # stdin: no terminal
    assert proc.returncode == 1
    assert "fine-tune" in proc.stdout and "estimate" in proc.stdout
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: kit up {BASE['name']}: needs confirmation to run GPU work")
    assert line.endswith("(hint: rerun with --yes)")
    assert not (tmp_path / ".kit" / BASE["name"] / "state.json").exists()      # nothing started
