"""`kit plan --offline` for target azure, as a user runs it: no credentials, no Pulumi CLI, the
same JSON shape as AWS; the text report groups resources by concern."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import yaml

from tests.stacks.azure.conftest import BASE

ROOT = Path(__file__).resolve().parents[3]     # this checkout's kit, whatever is installed


def _env(home: Path) -> dict[str, str]:
    """No AZURE_* variables, no Azure CLI login, and a PATH without `pulumi` or `az`."""
    path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    assert shutil.which("pulumi", path=path) is None
    return {"PATH": path, "HOME": str(home), "NO_COLOR": "1", "LANG": "C.UTF-8",
            "AZURE_CONFIG_DIR": str(home / "no-az"), "COLUMNS": "200", "PYTHONPATH": str(ROOT)}


def _kit(args: list[str], cwd: Path, raw: dict) -> "object":
    import subprocess

    (cwd / "kit.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "kit", *args, "-f", str(cwd / "kit.yaml"), "--examples", "1000"],
                          cwd=cwd, env=_env(cwd), capture_output=True, text=True, timeout=300)


def _check_json(data: dict, network: dict) -> None:
    types = {r["type"] for r in data["resources"]}
    assert {"azure-native:containerservice:ManagedCluster", "azure-native:containerservice:AgentPool",
            "azure-native:storage:StorageAccount", "azure-native:network:PrivateEndpoint",
            "azure-native:keyvault:Vault", "azure-native:containerregistry:CacheRule",
            "kubernetes:core/v1:Namespace"} <= types
    for r in data["resources"]:
        assert set(r) >= {"type", "name", "inputs", "protect", "retain_on_delete"}
    cluster = next(r for r in data["resources"] if r["type"] == "azure-native:containerservice:ManagedCluster")
    api = cluster["inputs"]["apiServerAccessProfile"]
    assert api["enablePrivateCluster"] is (not network)
    assert api.get("authorizedIPRanges") == network.get("operator_cidrs")
    # Without egress: no NAT gateway, no NSG rule letting anything out to an internet service
    # tag, and a DNS security policy on the VNet; with egress, the NAT gateway is the way out.
    assert ("azure-native:network:NatGateway" in types) is bool(network.get("egress"))
    assert ("azure-native:dnsresolver:DnsResolverPolicy" in types) is not bool(network.get("egress"))
    if not network.get("egress"):
        for nsg in (r for r in data["resources"] if r["type"] == "azure-native:network:NetworkSecurityGroup"):
            allows = [r for r in nsg["inputs"]["securityRules"]
                      if r["direction"] == "Outbound" and r["access"] == "Allow"]
            assert all(r["destinationAddressPrefix"] == "VirtualNetwork" for r in allows), nsg["name"]
    assert cluster["inputs"]["networkProfile"]["outboundType"] == ("userAssignedNATGateway" if network else "none")
    assert data["outputs"]["kubeconfig"] in ("[secret]", "[redacted]")


def test_offline_plan_json_without_credentials_or_cli(tmp_path: Path):
    proc = _kit(["plan", "--offline", "--output", "json"], tmp_path, BASE)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) >= {"stack", "resources", "outputs", "estimate"}
    _check_json(data, {})
    assert "certificate-authority-data" not in proc.stdout
    assert data["estimate"]["instance_type"] == "Standard_ND96isr_H100_v5"


def test_the_json_of_a_plan_with_egress_and_operator_cidrs(egress_plan):
    """What the command above prints is kit.infra.report.to_json of the plan."""
    from kit.infra.report import to_json

    _check_json(json.loads(json.dumps(to_json(egress_plan), default=str)),
                {"egress": True, "operator_cidrs": ["203.0.113.0/24"]})


def test_offline_plan_text_groups_by_concern(tmp_path: Path):
    proc = _kit(["plan", "--offline"], tmp_path, BASE)
    assert proc.returncode == 0, proc.stderr
    assert "resource ids are placeholders" in proc.stdout
    headings = {line.split(" (")[0].strip() for line in proc.stdout.splitlines() if line.strip().endswith(")")}
    assert {"network", "cluster", "nodes", "storage", "identity", "registry"} <= headings
    assert "networkProfile.outboundType: none" in proc.stdout and "disableLocalAccounts: true" in proc.stdout
