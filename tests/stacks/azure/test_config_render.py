"""kit.yaml's `azure:` section and `kit init`, `kit render` of an azure kit.yaml (through the
registry cache, with no workload-identity label, and annotations saved by `kit up`), and the
seam's promise that importing the cloud imports no SDK."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kit.config import parse
from kit.errors import KitError
from stacks.azure import names
from tests.stacks.azure.conftest import BASE, DATA_ACCOUNT, SUB, make_cfg


@pytest.mark.parametrize("azure, message", [
    ({"subscription_id": "not-a-uuid"}, r"azure\.subscription_id: String should match pattern"),
    ({"node_subnet_id": BASE and f"/subscriptions/{SUB}/resourceGroups/n/providers/Microsoft.Network/"
                                 "virtualNetworks/v/subnets/a"},
     r"azure\.endpoint_subnet_id: an existing VNet needs node_subnet_id, endpoint_subnet_id and apiserver"),
    ({"outbound_type": "userDefinedRouting"}, r"azure\.outbound_type: userDefinedRouting routes through an existing"),
    ({"network_policy": "none"}, r"azure\.network_policy: 'none' is not allowed"),
    ({"regoin": "x"}, r"azure\.regoin: unknown key"),
])
def test_azure_section_errors_name_the_yaml_path(azure, message):
    raw = json.loads(json.dumps(BASE))
    raw["azure"] = {**raw["azure"], **azure}
    with pytest.raises(KitError, match=message):
        parse(raw)


def test_importing_the_cloud_imports_no_sdk():
    code = ("import sys, stacks.azure, kit.config; from stacks.clouds import cloud_support; "
            "cloud_support('azure'); bad = [m for m in sys.modules if m.split('.')[0] in "
            "('pulumi', 'pulumi_azure_native', 'azure')]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[3])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _lock(tmp_path: Path) -> Path:
    import hashlib

    from kit.images import IMAGES

    lock = {n: f"{IMAGES[n].repository}@sha256:{hashlib.sha256(n.encode()).hexdigest()}"
            for n in ("kit", "trainer", "tgi", "vllm", "proxy")}
    path = tmp_path / "images.json"
    path.write_text(json.dumps(lock), encoding="utf-8")
    return path


def _render(tmp_path: Path) -> dict[str, list[dict]]:
    from click.testing import CliRunner

    from kit.commands.render import render

    (tmp_path / "kit.yaml").write_text(yaml.safe_dump(BASE), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(render, ["-f", str(tmp_path / "kit.yaml"), "--out", str(out),
                                         "--images", str(_lock(tmp_path))])
    assert result.exit_code == 0, result.output
    return {p.stem: [o for o in yaml.safe_load_all(p.read_text()) if o] for p in out.glob("*.yaml")}


def _pod(objects: list[dict], kind: str) -> dict:
    obj = next(o for o in objects if o["kind"] == kind)
    return obj["spec"]["template"]


def test_render_pulls_through_the_registry_cache_without_workload_identity(tmp_path):
    out = _render(tmp_path)
    registry = f"{names.registry('acme-notes', SUB)}.azurecr.io"
    job = _pod(out["finetune"], "Job")
    assert "azure.workload.identity/use" not in job["metadata"].get("labels", {})
    images = [c["image"] for c in job["spec"]["containers"] + job["spec"]["initContainers"]]
    assert images and all(i.startswith(f"{registry}/") for i in images)
    server = _pod(out["server"], "Deployment")
    proxy = next(c["image"] for c in server["spec"]["containers"] if c["name"] == "auth-proxy")
    assert proxy.startswith(f"{registry}/docker-hub/nginxinc/nginx-unprivileged@sha256:")
    engine = next(c["image"] for c in server["spec"]["containers"] if c["name"] != "auth-proxy")
    assert engine.startswith(f"{registry}/ghcr/huggingface/text-generation-inference@sha256:")
    storage = next(p for p in out["platform"] if p["metadata"]["name"] == "allow-storage")
    cidrs = [peer["ipBlock"]["cidr"] for rule in storage["spec"]["egress"] for peer in rule["to"]]
    assert cidrs == ["10.42.255.0/24", "169.254.169.254/32"]      # endpoints, the node's metadata
    init = {c["name"]: c for c in _pod(out["finetune"], "Job")["spec"]["initContainers"]}
    assert any(f"az://{DATA_ACCOUNT}/notes/sft/" in json.dumps(c) for c in init.values())
    # The model is staged by a Job with the server's identity; the server's pod has none.
    stage = _pod(out["stage"], "Job")
    assert "azure.workload.identity/use" not in stage["metadata"].get("labels", {})
    assert stage["spec"]["serviceAccountName"] == "acme-notes-server"
    assert "azure.workload.identity/use" not in server["metadata"].get("labels", {})
    assert server["spec"]["serviceAccountName"] == "acme-notes-engine"


def test_render_after_up_annotates_the_service_accounts_with_the_client_ids(tmp_path):
    from kit.render import cluster_for

    cfg = parse(BASE, base_dir=tmp_path)
    saved = cluster_for(cfg).to_dict()
    saved["trainer_sa_annotations"] = {"azure.workload.identity/client-id": "0af1effd-87a8-52a8-9e67-99aa601a9044"}
    cfg.workdir.cluster_outputs.parent.mkdir(parents=True, exist_ok=True)
    cfg.workdir.cluster_outputs.write_text(json.dumps(saved), encoding="utf-8")
    out = _render(tmp_path)
    sa = next(o for o in out["finetune"] if o["kind"] == "ServiceAccount")
    assert sa["metadata"]["annotations"] == saved["trainer_sa_annotations"]


def test_kit_init_writes_an_azure_section_from_the_environment(tmp_path, monkeypatch):
    from kit.config import load
    from kit.scaffold import write_config

    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUB)
    path = write_config(tmp_path / "kit.yaml", name="acme", target="azure", model="meta-llama/Llama-3.1-8B",
                        data=f"https://{DATA_ACCOUNT}.blob.core.windows.net/notes/sft/", method="lora", region=None)
    cfg = load(path)
    assert (cfg.region, cfg.azure.subscription_id) == ("eastus2", SUB)
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID")
    with pytest.raises(KitError, match="AZURE_SUBSCRIPTION_ID is not set"):
        write_config(tmp_path / "other.yaml", name="acme", target="azure", model="m", data="d.jsonl",
                     method="lora", region=None)


def test_a_run_plans_in_the_stack_without_waiting_for_workload_identities():
    """No per-pod identity exists to wait for: the run's pods use their node's identity."""
    from kit.infra.plan import run_plan
    from stacks.azure.mocks import AzureMocks

    plan = run_plan(make_cfg(), AzureMocks(subscription=SUB), run_id="ft-abc")
    assert any("ft-abc" in json.dumps(r["inputs"]) for r in plan.resources)


def test_the_azure_example_plans_offline():
    from kit.config import load
    from kit.infra.plan import offline_plan

    cfg = load(Path(__file__).resolve().parents[3] / "examples" / "azure" / "kit.yaml")
    plan = offline_plan(cfg)
    pool = plan.one("azure-native:containerservice:AgentPool", "gpu")["inputs"]
    assert pool["vmSize"] == "Standard_NC40ads_H100_v5" and pool["maxCount"] == 2
    assert plan.outputs["data_uri"] == "https://acmeclinical.blob.core.windows.net/notes/sft/"


def test_outbound_type_block_is_refused_it_needs_a_managed_vnet(tmp_path):
    from kit.config import parse
    from tests.stacks.azure.conftest import BASE

    with pytest.raises(KitError) as err:
        parse({**BASE, "azure": {**BASE["azure"], "outbound_type": "block"}})
    assert "azure.outbound_type" in err.value.one_line()
