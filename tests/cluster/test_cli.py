"""As a user runs it: with no Pulumi CLI and an unreachable cluster, `kit up` (and `kit doctor`)
exit 1 in seconds with one line per problem, no traceback, and nothing created."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from tests.conftest import run_kit

KUBECONFIG = {"apiVersion": "v1", "kind": "Config", "current-context": "onprem-gpu",
              "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
              "contexts": [{"name": "onprem-gpu", "context": {"cluster": "c", "user": "u"}}],
              "users": [{"name": "u", "user": {"token": "not-a-real-token"}}]}


def setup(tmp_path: Path, target: str = "kubernetes") -> tuple[Path, dict]:
    (tmp_path / "kubeconfig").write_text(json.dumps(KUBECONFIG))
    (tmp_path / "bin").mkdir()
    cfg = {"name": "acme-notes", "target": target, "region": "us-east-1",
           "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
           "data": {"uri": "s3://acme-clinical-notes/sft/"}, "kubernetes": {"context": "onprem-gpu"}}
    if target == "kubernetes":
        cfg["storage"] = {"artifacts_uri": "s3://acme-kit-artifacts", "models_uri": "s3://acme-kit-models",
                          "bucket_owner": "123456789012"}
    path = tmp_path / "kit.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {"PATH": str(tmp_path / "bin"), "KUBECONFIG": str(tmp_path / "kubeconfig"),
           "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""}
    return path, env


def problems(output: str) -> dict[str, str]:
    return {line.split("✗", 1)[1].split(":", 1)[0].strip(): line
            for line in output.splitlines() if "✗" in line}


def test_up_stops_in_seconds_listing_every_problem(tmp_path):
    path, env = setup(tmp_path)
    started = time.monotonic()
    proc = run_kit("up", "-f", str(path), "--yes", env=env, timeout=120)
    took = time.monotonic() - started
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert took < 30, took
    assert "Traceback" not in out
    found = problems(out)
    assert {"pulumi", "cluster", "images", "data"} <= set(found), out
    assert "get.pulumi.com" in found["pulumi"]
    assert "127.0.0.1:9: connection refused" in found["cluster"]
    assert all(line.count("✗") == 1 for line in found.values())
    assert proc.stderr.strip().splitlines()[-1].startswith("error: preflight: ")
    assert "nothing was created" in proc.stderr
    assert not (tmp_path / ".kit").exists()                  # no state, passphrase or lock


def test_doctor_reports_the_same_and_exits_1(tmp_path):
    path, env = setup(tmp_path, target="aws")
    proc = run_kit("doctor", "-f", str(path), env=env, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Traceback" not in out
    found = problems(out)
    assert {"pulumi", "aws credentials", "images"} <= set(found), out
    assert "✓ cluster: created by `kit up`" in out
    assert not (tmp_path / ".kit").exists()


def test_down_of_a_stack_without_yes_and_no_terminal_refuses_in_one_line(tmp_path):
    path, env = setup(tmp_path, target="aws")
    proc = run_kit("down", "-f", str(path), env=env, timeout=120)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: kit down acme-notes: destroys the stack") and "--yes" in line
    assert not (tmp_path / ".kit").exists()                  # nothing was touched
