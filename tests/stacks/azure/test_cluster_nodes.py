"""Cluster and node invariants on the Azure plan: a network-isolated, private AKS cluster
(bootstrap from the kit's registry cache; API server private unless operator CIDRs, then
exactly those); Entra ID with Azure RBAC and no local accounts; OIDC issuer and workload
identity; network policy enforced; secrets and disks under the kit's key; audit logs; the
GPU pool's taint, label, scale from zero and Spot, for every GPU type Azure has."""

from __future__ import annotations

import json
import re

import pytest

from kit.errors import KitError
from stacks.azure.catalog import CATALOG
from stacks.azure.mocks import OPERATOR, TENANT
from stacks.contract import GPU_LABEL
from tests.stacks.azure.conftest import SUB, az, inputs, make_cfg, plan_of

CLUSTER = az("containerservice:ManagedCluster")
POOL = az("containerservice:AgentPool")
RG = f"/subscriptions/{SUB}/resourceGroups/lima-kit-acme-notes/providers"


def test_api_server_is_private_and_vnet_integrated_by_default(default_plan):
    c = inputs(default_plan, CLUSTER)
    api = c["apiServerAccessProfile"]
    assert api["enablePrivateCluster"] is True and api["enablePrivateClusterPublicFQDN"] is False
    assert api["enableVnetIntegration"] is True and api["subnetId"].endswith("/subnets/apiserver")
    assert api["disableRunCommand"] is True
    assert "authorizedIPRanges" not in api
    # The private cluster has no public endpoint; publicNetworkAccess stays AKS's own (Disabled
    # would refuse userDefinedRouting).
    assert "publicNetworkAccess" not in c


def test_operator_cidrs_open_the_api_server_to_exactly_those_ranges():
    cidrs = ["203.0.113.0/24", "198.51.100.7/32"]
    c = inputs(plan_of(make_cfg(network={"operator_cidrs": cidrs})), CLUSTER)
    api = c["apiServerAccessProfile"]
    assert api["enablePrivateCluster"] is False
    assert api["authorizedIPRanges"] == cidrs


def test_network_isolated_bootstrap_from_the_kits_registry_cache(default_plan):
    c = inputs(default_plan, CLUSTER)
    registry = default_plan.one(az("containerregistry:Registry"))
    acr_id = f"{RG}/Microsoft.ContainerRegistry/registries/{registry['inputs']['registryName']}"
    assert c["bootstrapProfile"] == {"artifactSource": "Cache", "containerRegistryId": acr_id}
    rule = inputs(default_plan, az("containerregistry:CacheRule"), "cache-aks-managed-mcr")
    assert (rule["sourceRepository"], rule["targetRepository"]) == ("mcr.microsoft.com/*", "aks-managed-repository/*")
    pull = inputs(default_plan, az("authorization:RoleAssignment"), "kubelet-acr-pull")
    assert pull["scope"] == acr_id and pull["roleDefinitionId"].endswith("7f951dda-4ed3-4680-a7ca-43fe172d538d")
    assert c["identityProfile"]["kubeletidentity"]["resourceId"].endswith("/userAssignedIdentities/acme-notes-kubelet")


def test_entra_id_with_azure_rbac_and_no_local_accounts(default_plan):
    c = inputs(default_plan, CLUSTER)
    assert c["aadProfile"] == {"managed": True, "enableAzureRBAC": True, "tenantID": TENANT}
    assert c["disableLocalAccounts"] is True and c["enableRBAC"] is True
    admin = inputs(default_plan, az("authorization:RoleAssignment"), "operator-cluster-admin")
    assert admin["principalId"] == OPERATOR
    assert admin["scope"] == f"{RG}/Microsoft.ContainerService/managedClusters/acme-notes"
    assert admin["roleDefinitionId"].endswith("b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b")


def test_admin_groups_are_passed_to_entra():
    group = "0f0f0f0f-1111-2222-3333-444444444444"
    c = inputs(plan_of(make_cfg(azure={"admin_group_object_ids": [group]})), CLUSTER)
    assert c["aadProfile"]["adminGroupObjectIDs"] == [group]


def test_oidc_issuer_workload_identity_and_image_cleaner(default_plan):
    c = inputs(default_plan, CLUSTER)
    assert c["oidcIssuerProfile"]["enabled"] is True
    assert c["securityProfile"]["workloadIdentity"] == {"enabled": True}
    assert c["securityProfile"]["imageCleaner"]["enabled"] is True


@pytest.mark.parametrize("engine, dataplane", [("cilium", "cilium"), ("calico", None), ("azure", None)])
def test_network_policy_is_enforced(engine, dataplane):
    plan = plan_of() if engine == "cilium" else plan_of(make_cfg(azure={"network_policy": engine}))
    profile = inputs(plan, CLUSTER)["networkProfile"]
    assert profile["networkPolicy"] == engine
    assert profile.get("networkDataplane") == dataplane
    assert profile["networkPlugin"] == "azure" and profile["networkPluginMode"] == "overlay"


def test_secrets_and_disks_are_encrypted_with_the_kits_key(default_plan):
    c = inputs(default_plan, CLUSTER)
    key = default_plan.one(az("keyvault:Key"))["inputs"]
    kms = c["securityProfile"]["azureKeyVaultKms"]
    assert kms["enabled"] is True and kms["keyVaultNetworkAccess"] == "Private"
    assert kms["keyId"].startswith(f"https://{key['vaultName']}.vault.azure.net/keys/{key['keyName']}/")
    assert kms["keyVaultResourceId"].endswith(f"/vaults/{key['vaultName']}")
    des = inputs(default_plan, az("compute:DiskEncryptionSet"))
    assert c["diskEncryptionSetID"].endswith("/diskEncryptionSets/acme-notes-disks")
    assert des["encryptionType"] == "EncryptionAtRestWithCustomerKey"
    assert des["activeKey"]["keyUrl"] == kms["keyId"]
    assert des["rotationToLatestKeyVersionEnabled"] is True
    assert c["agentPoolProfiles"][0]["enableEncryptionAtHost"] is True
    assert inputs(default_plan, POOL, "gpu")["enableEncryptionAtHost"] is True


def test_control_plane_audit_logs_go_to_the_kept_workspace(default_plan):
    diag = inputs(default_plan, az("monitor:DiagnosticSetting"))
    assert {log["category"] for log in diag["logs"] if log["enabled"]} >= {"kube-audit", "kube-audit-admin", "guard"}
    assert diag["resourceUri"].endswith("/managedClusters/acme-notes")
    assert diag["workspaceId"].endswith(
        "/resourceGroups/lima-kit-acme-notes-kept/providers/Microsoft.OperationalInsights/workspaces/lima-kit-acme-notes-audit")
    ws = default_plan.one(az("operationalinsights:Workspace"))
    assert ws["retain_on_delete"] is True and ws["inputs"]["retentionInDays"] == 730
    tables = {t["inputs"]["tableName"]: t for t in default_plan.of_type(az("operationalinsights:Table"))}
    assert set(tables) == {"AKSAudit", "AKSAuditAdmin"}
    assert all(t["inputs"]["totalRetentionInDays"] == 2192 and t["retain_on_delete"] for t in tables.values())


def test_purge_lets_the_audit_trail_go():
    plan = plan_of(make_cfg(), purge=True)
    assert plan.one(az("operationalinsights:Workspace"))["retain_on_delete"] is False


def test_gpu_pool_taint_label_and_scale_from_zero(default_plan):
    gpu = inputs(default_plan, POOL, "gpu")
    assert gpu["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule"]
    assert gpu["nodeLabels"] == GPU_LABEL
    assert (gpu["enableAutoScaling"], gpu["minCount"], gpu["maxCount"], gpu["count"]) == (True, 0, 2, 0)
    assert gpu["mode"] == "User" and gpu["scaleSetPriority"] == "Regular"
    assert gpu["gpuProfile"] == {"driver": "Install"}
    assert default_plan.one(POOL, "gpu")["ignore_changes"] == ["count"]   # AKS's autoscaler owns it
    assert default_plan.outputs["gpu_tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}]
    (system,) = inputs(default_plan, CLUSTER)["agentPoolProfiles"]
    assert system["mode"] == "System" and "nodeTaints" not in system


def test_spot_pool_is_deleted_on_eviction_and_tolerated():
    plan = plan_of(make_cfg(gpu={"spot": True}))
    gpu = inputs(plan, POOL, "gpu")
    assert (gpu["scaleSetPriority"], gpu["scaleSetEvictionPolicy"], gpu["spotMaxPrice"]) == ("Spot", "Delete", -1)
    assert gpu["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule",
                                 "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"]
    spot = {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot",
            "effect": "NoSchedule"}
    assert spot in plan.outputs["gpu_tolerations"]


@pytest.mark.parametrize("offer", CATALOG, ids=lambda o: f"{o.gpu_type}x{o.gpus}")
def test_every_gpu_type_maps_to_its_vm_size(offer):
    plan = plan_of(make_cfg(gpu={"type": offer.gpu_type, "count": offer.gpus, "max_nodes": 3}))
    gpu = inputs(plan, POOL, "gpu")
    assert gpu["vmSize"] == offer.machine_types[0]
    assert gpu["maxCount"] == 3 and gpu["nodeTaints"][0] == "nvidia.com/gpu=present:NoSchedule"


@pytest.mark.parametrize("gpu, message", [
    ({"type": "l4", "count": 1}, r"gpu\.type: l4 is not offered on azure \(hint: azure has a100, h100, h200\)"),
    ({"type": "h200", "count": 1}, r"gpu\.count: h200 nodes on azure come with \[8\] GPUs, not 1"),
])
def test_a_gpu_azure_lacks_is_one_line(gpu, message):
    with pytest.raises(KitError) as err:
        plan_of(make_cfg(gpu=gpu))
    assert "\n" not in err.value.one_line()
    assert re.search(message, err.value.one_line())


def _revealed(value):
    """A secret as the mocks record it ({<secret signature>: ..., "value": ...}) -> its value."""
    return value["value"] if isinstance(value, dict) else value


def test_kubeconfig_runs_the_kit_for_an_entra_token_and_holds_no_secret(default_plan):
    config = json.loads(_revealed(default_plan.outputs["kubeconfig"]))
    (user,) = config["users"]
    assert user["user"] == {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "kit",
                                     "args": ["cluster-token", "azure"], "interactiveMode": "Never",
                                     "provideClusterInfo": False}}
    assert config["clusters"][0]["cluster"]["server"].startswith("https://acme-notes.privatelink.eastus2.azmk8s.io")
    assert "kubelogin" not in json.dumps(config)
    assert "token" not in json.dumps(user["user"]).replace("cluster-token", "")
    provider = json.loads(_revealed(inputs(default_plan, "pulumi:providers:kubernetes", "aks")["kubeconfig"]))
    assert provider["users"] == config["users"]         # `kit` from the engine's PATH (kit_path)


def test_cluster_identity_roles_are_scoped_to_what_aks_touches(default_plan):
    grants = {r["name"]: r["inputs"] for r in default_plan.of_type(az("authorization:RoleAssignment"))
              if r["name"].startswith("cluster-")}
    scopes = {name: g["scope"].split("/providers/", 1)[-1] for name, g in grants.items()}
    assert scopes == {
        "cluster-kubelet-operator": "Microsoft.ManagedIdentity/userAssignedIdentities/acme-notes-kubelet",
        "cluster-node-subnet": "Microsoft.Network/virtualNetworks/acme-notes-vnet/subnets/nodes",
        "cluster-apiserver-subnet": "Microsoft.Network/virtualNetworks/acme-notes-vnet/subnets/apiserver",
        "cluster-kms-key": "Microsoft.KeyVault/vaults/kv-acmenotes-215f6852/keys/storage-key",
        "cluster-kms-vault": "Microsoft.KeyVault/vaults/kv-acmenotes-215f6852",
        "cluster-disk-encryption": "Microsoft.Compute/diskEncryptionSets/acme-notes-disks",
    }
    c = inputs(default_plan, CLUSTER)
    assert c["identity"]["type"] == "UserAssigned"
