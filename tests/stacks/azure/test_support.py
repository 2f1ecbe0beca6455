"""The Azure CloudSupport's functions through their public interfaces, with fakes for ARM and
azure-identity: adoption and purge of the kept group, the leak report, `kit doctor`'s checks,
the cluster token, retail prices; kit.yaml's `azure:` errors; `kit render` of an azure kit.yaml;
and the seam's promise that importing the cloud imports no SDK."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from kit.config import parse
from kit.errors import KitError
from stacks.azure_cloud import ENTRA_ID, kept, leaks, names, preflight, prices
from tests.stacks.azure.conftest import BASE, DATA_ACCOUNT, SUB, make_cfg

IDS = names.kept_ids("acme-notes", SUB)
MINE = {names.STACK_TAG: "acme-notes"}


class FakeArm:
    """ARM as the kit uses it (get / request / pages / graph), from a table of resources."""

    subscription = SUB

    def __init__(self, resources: dict[str, dict] | None = None, lists: dict[str, list] | None = None,
                 rows: list[dict] | None = None, name_available: bool = True) -> None:
        self.resources = resources or {}
        self.lists = lists or {}
        self.rows = rows or []
        self.name_available = name_available
        self.calls: list[tuple[str, str]] = []

    def get(self, path: str, api_version: str):
        self.calls.append(("GET", path))
        return self.resources.get(path)

    def request(self, method: str, path: str, api_version: str, body=None):
        self.calls.append((method, path))
        if path.endswith("/checkNameAvailability"):
            return {"nameAvailable": self.name_available, "reason": "AlreadyExists"}
        assert method == "DELETE", (method, path)
        return {}

    def pages(self, path: str, api_version: str):
        self.calls.append(("LIST", path))
        return self.lists.get(path, [])

    def graph(self, query: str):
        self.calls.append(("GRAPH", query))
        return self.rows


def _all_kept(tags=MINE) -> dict[str, dict]:
    return {ident: {"id": ident, "tags": dict(tags)} for ident in IDS.values()}


# --- adoption and purge ---------------------------------------------------------------------

def test_kept_resources_of_this_stack_are_adopted_by_their_arm_ids():
    arm = FakeArm(_all_kept())
    assert kept.find_adoptions(make_cfg(), {}, arm) == IDS
    assert set(IDS) == set(names.ADOPTABLE) and len(IDS) == 10
    assert IDS["storage"].endswith(f"/resourceGroups/lima-kit-acme-notes-kept/providers/Microsoft.Storage/"
                                   f"storageAccounts/{names.storage_account('acme-notes', SUB)}")


def test_what_the_state_holds_is_not_looked_up():
    deployment = {"resources": [{"urn": f"urn:pulumi:s::lima-kit::{t}::{n}", "type": t}
                                for n, (t, _, _) in kept.KEPT.items()]}
    arm = FakeArm(_all_kept())
    assert kept.find_adoptions(make_cfg(), deployment, arm) == {}
    assert arm.calls == []


def test_children_are_adopted_with_their_parent_only():
    resources = {i: r for i, r in _all_kept().items() if i not in (IDS["audit-logs"], IDS["storage"])}
    found = kept.find_adoptions(make_cfg(), {}, FakeArm(resources))
    assert set(found) == {"kept-group", "vault", "key"}     # containers, tables: parent not kept


def test_a_kept_name_tagged_for_another_stack_is_refused():
    resources = _all_kept()
    resources[IDS["vault"]]["tags"] = {names.STACK_TAG: "other"}
    with pytest.raises(KitError, match=r"exists but is tagged lima-kit:stack=other, not lima-kit:stack=acme-notes"):
        kept.find_adoptions(make_cfg(), {}, FakeArm(resources))


def test_a_vault_waiting_out_purge_protection_says_how_to_recover_it():
    resources = _all_kept()
    del resources[IDS["vault"]], resources[IDS["key"]]
    vault = names.key_vault("acme-notes", SUB)
    deleted = f"/subscriptions/{SUB}/providers/Microsoft.KeyVault/locations/eastus2/deletedVaults/{vault}"
    resources[deleted] = {"properties": {"tags": MINE, "scheduledPurgeDate": "2027-02-27T00:00:00Z"}}
    with pytest.raises(KitError) as err:
        kept.find_adoptions(make_cfg(), {}, FakeArm(resources))
    assert "purge protection keeps its name until 2027-02-27" in err.value.message
    assert f"az keyvault recover -n {vault}" in err.value.hint


def test_a_storage_name_taken_elsewhere_is_refused():
    resources = _all_kept()
    del resources[IDS["storage"]]
    with pytest.raises(KitError, match=r"storage account lk\w+: the kit's name for acme-notes is taken"):
        kept.find_adoptions(make_cfg(), {}, FakeArm(resources, name_available=False))


def test_purge_deletes_the_kept_group_only_when_everything_in_it_is_the_kits():
    inside = [{"id": IDS["storage"], "tags": MINE}, {"id": IDS["vault"], "tags": MINE}]
    arm = FakeArm(_all_kept(), lists={f"{IDS['kept-group']}/resources": inside})
    lines = kept.purge_with(make_cfg(), arm)
    assert ("DELETE", IDS["kept-group"]) in arm.calls
    assert lines[0].startswith("deleting resource group lima-kit-acme-notes-kept")
    assert any("purge protection keeps it" in line for line in lines)


def test_purge_refuses_a_kept_group_holding_something_else():
    inside = [{"id": IDS["storage"], "tags": MINE}, {"id": "/subscriptions/x/vm-of-yours", "tags": {}}]
    arm = FakeArm(_all_kept(), lists={f"{IDS['kept-group']}/resources": inside})
    with pytest.raises(KitError, match=r"holds /subscriptions/x/vm-of-yours .* nothing was deleted"):
        kept.purge_with(make_cfg(), arm)
    assert not [c for c in arm.calls if c[0] == "DELETE"]


def test_purge_with_nothing_kept_deletes_nothing():
    arm = FakeArm({})
    assert kept.purge_with(make_cfg(), arm) == []
    assert not [c for c in arm.calls if c[0] == "DELETE"]


def test_adopt_ids_are_imported_by_the_program():
    from kit.infra.plan import run_plan
    from stacks.azure_cloud.mocks import AzureMocks

    class ImportMocks(AzureMocks):
        def __init__(self):
            super().__init__(subscription=SUB)
            self.imports: dict[str, str] = {}

        def new_resource(self, args):
            self.imports[args.name] = args.resource_id or ""
            return super().new_resource(args)

    mocks = ImportMocks()
    plan = run_plan(make_cfg(), mocks, adopt=IDS)
    imported = {name: ident for name, ident in mocks.imports.items() if ident and name != "data"}
    assert imported == IDS
    assert plan.one("azure-native:storage:StorageAccount", "storage")["retain_on_delete"] is True
    with pytest.raises(KitError, match="no adoptable resource named 'registry'"):
        run_plan(make_cfg(), AzureMocks(subscription=SUB), adopt={"registry": "x"})


# --- the leak report ------------------------------------------------------------------------

def _rows():
    kept_group = names.kept_group("acme-notes")
    lb = (f"/subscriptions/{SUB}/resourceGroups/lima-kit-acme-notes-nodes/providers/Microsoft.Network/"
          "loadBalancers/kubernetes-internal")
    return [{"id": IDS["storage"], "type": "microsoft.storage/storageaccounts", "resourceGroup": kept_group},
            {"id": IDS["kept-group"], "type": "microsoft.resources/subscriptions/resourcegroups",
             "resourceGroup": kept_group},
            {"id": lb, "type": "microsoft.network/loadbalancers", "resourceGroup": "lima-kit-acme-notes-nodes"}]


def test_leak_report_lists_kept_and_left_resources_with_their_fix():
    arm = FakeArm(rows=_rows())
    lines = leaks.leak_report(arm, "acme-notes")
    assert [line.split(":", 1)[0] for line in lines[:2]] == ["kept (runs, mirrored weights, their key and the "
                                                             "audit trail; `kit down --purge` deletes it)"] * 2
    assert "still exists[/]: /subscriptions/" in lines[2] and "az resource delete --ids" in lines[2]
    assert "Resource Graph lags deletions" in lines[3]
    (query,) = [c[1] for c in arm.calls if c[0] == "GRAPH"]
    assert "tags['lima-kit:stack'] == 'acme-notes'" in query and "'lima-kit-acme-notes-nodes'" in query


def test_after_a_purge_nothing_is_kept_by_design():
    lines = leaks.leak_report(FakeArm(rows=_rows()), "acme-notes", keep=False)
    assert sum("still exists" in line for line in lines) == 3
    assert any("az group delete -n lima-kit-acme-notes-kept" in line for line in lines)
    assert leaks.leak_report(FakeArm(rows=[]), "acme-notes") == ["nothing tagged lima-kit:stack=acme-notes is left"]


# --- kit doctor -------------------------------------------------------------------------------

def _usage(name: str, limit: int, used: int = 0) -> dict:
    return {"name": {"value": name, "localizedValue": f"{name} vCPUs"}, "limit": limit, "currentValue": used}


def test_gpu_quota_counts_the_vm_familys_free_vcpus():
    cfg = make_cfg()          # 2 x Standard_ND96isr_H100_v5: 192 vCPUs
    ok = preflight.quota_check(cfg, [_usage("standardNDSH100v5Family", 400, 100)])
    assert ok.ok and "100/400 vCPUs used; 2 x Standard_ND96isr_H100_v5 need 192" in ok.detail
    short = preflight.quota_check(cfg, [_usage("standardNDSH100v5Family", 200, 100)])
    assert not short.ok and "request 292 vCPUs" in short.fix
    missing = preflight.quota_check(cfg, [_usage("standardNCadsH100v5Family", 1000)])
    assert not missing.ok and "no quota named 'standardNDSH100v5Family' in eastus2" in missing.detail


def test_spot_pools_count_against_the_regional_spot_quota():
    cfg = make_cfg(gpu={"spot": True})
    assert preflight.quota_check(cfg, [_usage("lowPriorityCores", 192)]).ok
    assert not preflight.quota_check(cfg, [_usage("standardNDSH100v5Family", 1000)]).ok


def test_a_gpu_azure_lacks_fails_the_quota_check_with_the_catalog():
    check = preflight.quota_check(make_cfg(gpu={"type": "l40s", "count": 1}), [])
    assert not check.ok and check.fix == "azure has a100, h100, h200"


def test_resource_providers_and_encryption_at_host_must_be_registered():
    registered = dict.fromkeys(preflight.PROVIDERS, "Registered")
    assert preflight.providers_check(registered, "Registered").ok
    missing = preflight.providers_check({**registered, "Microsoft.ContainerService": "NotRegistered"}, "Registered")
    assert not missing.ok and missing.fix == "az provider register -n Microsoft.ContainerService"
    feature = preflight.providers_check(registered, "Pending")
    assert not feature.ok and "EncryptionAtHost is Pending" in feature.detail


def test_subscription_state_and_azblob_state_location():
    assert not preflight.subscription_check({"subscriptionId": SUB, "state": "Disabled"}).ok
    assert preflight.subscription_check({"subscriptionId": SUB, "displayName": "prod", "state": "Enabled"}).ok
    assert preflight.state_location("azblob://pulumi-state?storage_account=acmestate", {}) == ("acmestate",
                                                                                              "pulumi-state")
    assert preflight.state_location("azblob://pulumi-state", {"AZURE_STORAGE_ACCOUNT": "envacct"}) == (
        "envacct", "pulumi-state")


def test_azblob_state_keeps_secrets_under_the_operators_key_vault(monkeypatch):
    from kit.infra.driver import SECRETS_ENV, secrets_provider

    monkeypatch.delenv(SECRETS_ENV, raising=False)
    state = "azblob://pulumi-state?storage_account=acmestate"
    check = preflight.state_container(make_cfg(state=state))
    assert not check.ok and "the state key's state_key_vault is unknown" in check.detail
    assert check.fix.startswith("set azure.state_key_vault in kit.yaml")
    cfg = make_cfg(state=state, azure={"state_key_vault": "acme-state"})
    assert secrets_provider(cfg) == "azurekeyvault://acme-state.vault.azure.net/keys/lima-kit-state"


# --- the cluster token ------------------------------------------------------------------------

def test_cluster_token_is_an_entra_token_for_aks(monkeypatch):
    import azure.identity
    from azure.core.credentials import AccessToken

    scopes = []

    class FakeCredential:
        def __init__(self, **kwargs):
            assert kwargs == {"exclude_interactive_browser_credential": True}

        def get_token(self, *requested):
            scopes.extend(requested)
            return AccessToken("entra-token", 1_900_000_000)

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", FakeCredential)
    from kit.cluster.credential import exec_credential

    answer = json.loads(exec_credential("azure"))
    assert scopes == ["6dae42f8-4368-4678-94ff-3960e28e3630/.default"]
    assert answer["kind"] == "ExecCredential"
    assert answer["status"] == {"token": "entra-token", "expirationTimestamp": datetime.fromtimestamp(
        1_900_000_000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_cluster_token_without_credentials_is_one_line(monkeypatch):
    import azure.identity
    from azure.core.exceptions import ClientAuthenticationError

    class NoCredential:
        def __init__(self, **kwargs):
            pass

        def get_token(self, *scopes):
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token\nAttempted ...")

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", NoCredential)
    from stacks.azure_cloud.token import token

    with pytest.raises(KitError) as err:
        token()
    assert "\n" not in err.value.one_line() and "az login" in err.value.hint


# --- prices -----------------------------------------------------------------------------------

def test_prices_take_the_lowest_linux_meter_on_demand_and_spot():
    size = "Standard_NC40ads_H100_v5"
    item = {"armSkuName": size, "armRegionName": "eastus2", "unitOfMeasure": "1 Hour",
            "productName": "NCadsH100v5 Series"}
    items = [{**item, "skuName": "NC40ads H100 v5", "retailPrice": 6.98},
             {**item, "skuName": "NC40ads H100 v5", "retailPrice": 7.5},
             {**item, "skuName": "NC40ads H100 v5 Spot", "retailPrice": 2.1},
             {**item, "skuName": "NC40ads H100 v5 Low Priority", "retailPrice": 1.0},
             {**item, "skuName": "NC40ads H100 v5", "retailPrice": 9.9, "productName": "NCadsH100v5 Series Windows"},
             {**item, "skuName": "NC40ads H100 v5", "retailPrice": 0.0}]
    catalog = prices.build("eastus2", [size, "Standard_NC24ads_A100_v4"], items, today="2026-11-29")
    assert catalog["regions"]["eastus2"] == {size: {"on_demand": 6.98, "spot": 2.1},
                                             "Standard_NC24ads_A100_v4": {"on_demand": None, "spot": None}}
    assert catalog["date"] == "2026-11-29"


# --- kit.yaml ---------------------------------------------------------------------------------

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
    code = ("import sys, stacks.azure_cloud, kit.config; from stacks.clouds import cloud_support; "
            "cloud_support('azure'); bad = [m for m in sys.modules if m.split('.')[0] in "
            "('pulumi', 'pulumi_azure_native', 'azure')]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[3])
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- kit render -------------------------------------------------------------------------------

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


def test_render_pulls_through_the_registry_cache_with_workload_identity_labels(tmp_path):
    out = _render(tmp_path)
    registry = f"{names.registry('acme-notes', SUB)}.azurecr.io"
    job = _pod(out["finetune"], "Job")
    assert job["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    images = [c["image"] for c in job["spec"]["containers"] + job["spec"]["initContainers"]]
    assert images and all(i.startswith(f"{registry}/") for i in images)
    server = _pod(out["server"], "Deployment")
    proxy = next(c["image"] for c in server["spec"]["containers"] if c["name"] == "auth-proxy")
    assert proxy.startswith(f"{registry}/docker-hub/nginxinc/nginx-unprivileged@sha256:")
    engine = next(c["image"] for c in server["spec"]["containers"] if c["name"] != "auth-proxy")
    assert engine.startswith(f"{registry}/ghcr/huggingface/text-generation-inference@sha256:")
    storage = next(p for p in out["platform"] if p["metadata"]["name"] == "allow-storage")
    cidrs = [peer["ipBlock"]["cidr"] for rule in storage["spec"]["egress"] for peer in rule["to"]]
    assert cidrs == ["10.42.255.0/24", *ENTRA_ID]
    init = {c["name"]: c for c in _pod(out["finetune"], "Job")["spec"]["initContainers"]}
    assert any(f"az://{DATA_ACCOUNT}/notes/sft/" in json.dumps(c) for c in init.values())
    # The model is staged by a Job with the server's identity; the server's pod has none.
    stage = _pod(out["stage"], "Job")
    assert stage["metadata"]["labels"]["azure.workload.identity/use"] == "true"
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
    from kit.init import write_config

    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUB)
    path = write_config(tmp_path / "kit.yaml", name="acme", target="azure", model="meta-llama/Llama-3.1-8B",
                        data=f"https://{DATA_ACCOUNT}.blob.core.windows.net/notes/sft/", method="lora", region=None)
    cfg = load(path)
    assert (cfg.region, cfg.azure.subscription_id) == ("eastus2", SUB)
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID")
    with pytest.raises(KitError, match="AZURE_SUBSCRIPTION_ID is not set"):
        write_config(tmp_path / "other.yaml", name="acme", target="azure", model="m", data="d.jsonl",
                     method="lora", region=None)


def test_a_run_in_the_stack_is_refused_until_the_identities_exist():
    from kit.infra.plan import run_plan
    from stacks.azure_cloud.mocks import AzureMocks

    with pytest.raises(KitError, match=r"lima-kit:runId: on azure a run's workloads need the workload identities"):
        run_plan(make_cfg(), AzureMocks(subscription=SUB), run_id="ft-abc")


def test_arm_without_credentials_is_one_arm_error_and_no_log_flood(caplog):
    import logging

    from azure.core.exceptions import ClientAuthenticationError

    from stacks.azure_cloud.arm import Arm, ArmError

    class NoCredential:
        def get_token(self, *scopes):
            logging.getLogger("azure.identity._credentials.default").warning("Attempted credentials:\n...")
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token\nAttempted ...")

    with caplog.at_level(logging.INFO), pytest.raises(ArmError) as err:
        Arm(NoCredential(), SUB).get(f"/subscriptions/{SUB}", "2022-12-01")
    assert (err.value.status, err.value.code) == (401, "NoCredentials")
    assert str(err.value) == "401 NoCredentials: DefaultAzureCredential failed to retrieve a token"
    assert "Attempted credentials" not in caplog.text
    assert logging.getLogger("azure.identity").level == logging.NOTSET      # restored
