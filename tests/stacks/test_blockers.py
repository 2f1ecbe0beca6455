"""Blockers: a kit.yaml that leaves the operator no path to what `kit up` talks to is refused
before anything is created, with the fix, and `kit plan --offline` says so first.

Each example (aws, gcp, azure) is taken with `network.operator_cidrs` removed and nothing else
changed. AWS and Azure then have a private-only API server (and, on Azure, a private registry
and storage account) that the operator's machine cannot reach in the run that creates the
network: a blocker. GCP has none: the kit reaches GKE through its DNS-based control-plane
endpoint, which admits any address and lets IAM decide
(https://docs.cloud.google.com/kubernetes-engine/docs/concepts/network-isolation, read
2026-12-07), so no address list is needed there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kit.errors import KitError
from tests.conftest import ROOT

pytest.importorskip("pulumi")


def _without_cidrs(cloud: str, tmp_path: Path) -> Path:
    raw = yaml.safe_load((ROOT / "examples" / cloud / "kit.yaml").read_text(encoding="utf-8"))
    raw["network"].pop("operator_cidrs", None)
    path = tmp_path / "kit.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def _kit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "HOME": str(cwd),
                               "COLUMNS": "200", "PYTHONPATH": os.environ.get("PYTHONPATH", "")})


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_an_example_without_operator_cidrs_is_blocked_with_the_fix(cloud, tmp_path):
    path = _without_cidrs(cloud, tmp_path)
    proc = _kit("plan", "--offline", "-f", str(path), "--output", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (blocker,) = json.loads(proc.stdout)["blockers"]
    assert blocker["check"] == "operator path"
    assert blocker["detail"].startswith("API server")
    assert "network.operator_cidrs" in blocker["fix"]
    text = _kit("plan", "--offline", "-f", str(path), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    # The blocker comes first, before the resources.
    assert text.stdout.index("BLOCKER operator path") < text.stdout.index("Plan for stack")


def test_the_gcp_example_without_operator_cidrs_has_no_blocker_the_dns_endpoint_is_its_path(tmp_path):
    proc = _kit("plan", "--offline", "-f", str(_without_cidrs("gcp", tmp_path)), "--output", "json",
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["blockers"] == []
    api = next(r for r in data["operator_reach"] if r["what"] == "API server")
    assert api["open"] is True and "DNS-based endpoint" in api["source"]


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_the_shipped_examples_have_no_blocker(cloud, tmp_path):
    from kit.config import load
    from kit.infra.blockers import blockers

    assert blockers(load(ROOT / "examples" / cloud / "kit.yaml")) == []


@pytest.fixture
def reached(monkeypatch):
    """Records whether `kit up` got as far as its target (the only way to the Pulumi driver)."""
    calls: list[str] = []

    def for_config(cfg):
        calls.append(cfg.name)
        raise KitError("test: the target was reached")

    monkeypatch.setattr("kit.target.for_config", for_config)
    return calls


def _up(path: Path, capsys) -> tuple[int, str]:
    from kit.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["up", "-f", str(path), "--yes"])
    return exit_.value.code, capsys.readouterr().err


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_kit_up_stops_at_the_blocker_before_reaching_the_target(cloud, tmp_path, reached, capsys):
    code, err = _up(_without_cidrs(cloud, tmp_path), capsys)
    assert code == 1 and reached == []
    (line,) = err.strip().splitlines()
    assert "blocked: operator path" in line and "nothing was created" in line
    assert "network.operator_cidrs" in line


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_kit_up_goes_on_when_no_blocker_stands(cloud, tmp_path, reached, capsys):
    path = tmp_path / "kit.yaml"
    path.write_text((ROOT / "examples" / cloud / "kit.yaml").read_text(encoding="utf-8"))
    if cloud == "gcp":
        path = _without_cidrs(cloud, tmp_path)
    code, err = _up(path, capsys)
    assert code == 1 and reached == ["acme-notes"] and "the target was reached" in err


@pytest.mark.parametrize(("cloud", "ok", "says"), [
    ("aws", False, "network.operator_cidrs"),
    ("azure", False, "network.operator_cidrs"),
    ("gcp", True, "DNS-based endpoint"),
])
def test_doctor_checks_the_operator_path(cloud, ok, says, tmp_path):
    from kit.cluster.preflight import operator_path
    from kit.config import load

    check = operator_path(load(_without_cidrs(cloud, tmp_path)))
    assert check.ok is ok and says in check.line()


def test_a_model_too_big_for_the_pool_is_a_blocker_in_the_plan_and_refuses_up(tmp_path):
    """kit.estimate.fit's verdict reaches `kit plan` as a blocker: a 70B full fine-tune on one
    24 GB L4 cannot fit, and would fail only after the infrastructure exists."""
    from kit.errors import KitError
    from kit.infra.blockers import blockers, refuse
    from tests.cluster.conftest import AWS, make

    cfg = make(AWS, tmp_path, model={"id": "meta-llama/Llama-3.1-70B-Instruct"},
               training={"method": "full"}, network={"operator_cidrs": ["203.0.113.7/32"]})
    fits = [b for b in blockers(cfg) if b.check == "gpu fit"]       # GPU memory, host memory
    assert fits and all("GiB" in b.detail and b.fix for b in fits)
    with pytest.raises(KitError, match="blocked: gpu fit"):
        refuse(cfg)
    ok = make(AWS, tmp_path, network={"operator_cidrs": ["203.0.113.7/32"]})
    assert [b for b in blockers(ok) if b.check == "gpu fit"] == []
