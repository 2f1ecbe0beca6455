"""Storage, keys, registry and identity invariants on the Azure plan: the kit's storage
account private, keyless and under the kit's key, retained unless --purge; the data account
only read; the key vault purge-protected, RBAC-only and private; the registry private with
cache rules for exactly the images the charts run; storage grants to the nodes' identity only
(no workload identity), container-scoped, condition-narrowed, deleting nothing; tags on everything;
outputs that follow the contract and agree with what `kit render` derives."""

from __future__ import annotations

import inspect

import pytest

from kit.errors import KitError
from stacks.azure import names
from stacks.azure.common import ROLES
from stacks.contract import ClusterOutputs
from tests.stacks.azure.conftest import DATA_ACCOUNT, SUB, az, inputs, make_cfg, plan_of

ROLE = az("authorization:RoleAssignment")
ACCOUNT = names.storage_account("acme-notes", SUB)
KEPT = f"/subscriptions/{SUB}/resourceGroups/lima-kit-acme-notes-kept/providers"
DATA = f"/subscriptions/{SUB}/resourceGroups/acme-data/providers/Microsoft.Storage/storageAccounts/{DATA_ACCOUNT}"
OWNER, CONTRIBUTOR, UAA = ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c",
                           "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9")


def _grants(plan) -> dict[str, dict]:
    return {r["name"]: r["inputs"] for r in plan.of_type(ROLE)}


def test_kit_storage_account_is_private_keyless_and_under_the_kits_key(default_plan):
    account = default_plan.one(az("storage:StorageAccount"), "storage")
    a = account["inputs"]
    assert a["accountName"] == ACCOUNT and a["resourceGroupName"] == "lima-kit-acme-notes-kept"
    assert (a["publicNetworkAccess"], a["allowBlobPublicAccess"], a["allowSharedKeyAccess"]) == (
        "Disabled", False, False)
    assert a["minimumTlsVersion"] == "TLS1_2" and a["enableHttpsTrafficOnly"] is True
    assert a["networkRuleSet"]["defaultAction"] == "Deny" and a["networkRuleSet"]["bypass"] == "None"
    assert a["defaultToOAuthAuthentication"] is True and a["allowCrossTenantReplication"] is False
    enc = a["encryption"]
    assert enc["keySource"] == "Microsoft.Keyvault" and enc["requireInfrastructureEncryption"] is True
    vault = names.key_vault("acme-notes", SUB)
    assert enc["keyVaultProperties"] == {"keyName": names.KEY, "keyVaultUri": f"https://{vault}.vault.azure.net/"}
    assert enc["encryptionIdentity"]["encryptionUserAssignedIdentity"].endswith(
        "/userAssignedIdentities/acme-notes-encryption")
    key_user = _grants(default_plan)["encryption-key-user"]
    assert key_user["scope"] == f"{KEPT}/Microsoft.KeyVault/vaults/{vault}/keys/{names.KEY}"
    assert key_user["roleAssignmentName"] == names.kept_assignment("acme-notes", SUB, "encryption-key-user")
    assert enc["encryptionIdentity"]["encryptionUserAssignedIdentity"] == (
        f"{KEPT}/Microsoft.ManagedIdentity/userAssignedIdentities/acme-notes-encryption")
    assert key_user["roleDefinitionId"].endswith(ROLES["Key Vault Crypto Service Encryption User"])
    blob = inputs(default_plan, az("storage:BlobServiceProperties"))
    assert blob["isVersioningEnabled"] is True and blob["deleteRetentionPolicy"] == {"enabled": True, "days": 30}
    containers = {r["inputs"]["containerName"]: r for r in default_plan.of_type(az("storage:BlobContainer"))}
    assert set(containers) == {"artifacts", "models"}
    assert all(c["inputs"]["publicAccess"] == "None" for c in containers.values())


def test_kept_resources_are_retained_unless_purging(default_plan):
    kept = [("storage:StorageAccount", "storage"), ("keyvault:Vault", "vault"), ("keyvault:Key", "key"),
            ("resources:ResourceGroup", "kept-group"), ("storage:BlobContainer", "container-artifacts"),
            ("storage:BlobContainer", "container-models"), ("operationalinsights:Workspace", "audit-logs"),
            # the identity the account unwraps its key as, and its role on the key: without
            # them a kept account could not read its own data
            ("managedidentity:UserAssignedIdentity", "encryption-identity"),
            ("authorization:RoleAssignment", "encryption-key-user")]
    purged = plan_of(make_cfg(), purge=True)
    for kind, name in kept:
        assert default_plan.one(az(kind), name)["retain_on_delete"] is True, name
        assert purged.one(az(kind), name)["retain_on_delete"] is False, name
    assert default_plan.one(az("resources:ResourceGroup"), "group")["retain_on_delete"] is False


def test_the_data_account_is_only_read(default_plan):
    reads = [(r["type"], r["name"], r["id"]) for r in default_plan.resources if r["read"]]
    assert reads == [(az("storage:StorageAccount"), "data", DATA)]
    created = {r["inputs"].get("accountName") for r in default_plan.resources if not r["read"]}
    assert DATA_ACCOUNT not in created
    touching = [r["name"] for r in default_plan.resources if not r["read"] and r["type"] != ROLE
                and r["type"] != az("network:PrivateEndpoint") and DATA in str(r["inputs"])]
    assert touching == []


def test_key_vault_is_purge_protected_rbac_only_and_private(default_plan):
    p = inputs(default_plan, az("keyvault:Vault"))["properties"]
    assert (p["enablePurgeProtection"], p["enableRbacAuthorization"], p["enableSoftDelete"]) == (True, True, True)
    assert p["publicNetworkAccess"] == "Disabled" and p["networkAcls"]["defaultAction"] == "Deny"
    assert "accessPolicies" not in p
    key = inputs(default_plan, az("keyvault:Key"))["properties"]
    assert key["kty"] == "RSA" and key["keySize"] >= 3072
    assert key["rotationPolicy"]["lifetimeActions"][0] == {"action": {"type": "rotate"},
                                                           "trigger": {"timeAfterCreate": "P1Y"}}


def test_registry_is_private_premium_and_caches_only_what_aks_requires(default_plan):
    """One cache rule: AKS's mcr.microsoft.com bootstrap rule, which a network-isolated cluster
    with its own registry requires (https://learn.microsoft.com/en-us/azure/aks/network-isolated,
    read 2026-12-07). The kit's images are copied in at their digests instead
    (tests/stacks/test_gcp_azure_images.py)."""
    r = inputs(default_plan, az("containerregistry:Registry"))
    assert r["sku"] == {"name": "Premium"} and r["publicNetworkAccess"] == "Disabled"
    assert (r["adminUserEnabled"], r["anonymousPullEnabled"]) == (False, False)
    assert r["policies"]["exportPolicy"] == {"status": "disabled"}
    # images are pulled by digest: no policy may delete an untagged platform manifest of a copy
    assert r["policies"]["retentionPolicy"] == {"status": "disabled"}
    rules = [(i["cacheRuleName"], i["sourceRepository"], i["targetRepository"])
             for i in (x["inputs"] for x in default_plan.of_type(az("containerregistry:CacheRule")))]
    assert rules == [("aks-managed-mcr", "mcr.microsoft.com/*", "aks-managed-repository/*")]


def test_storage_tokens_come_from_the_nodes_identity_not_workload_identity(default_plan):
    """Workload identity needs Microsoft Entra ID's sign-in endpoints, which serve every tenant
    and have no private endpoint: the pods use the node pools' identity through the instance
    metadata endpoint instead, so no federated credential and no per-pod identity exist."""
    assert default_plan.of_type(az("managedidentity:FederatedIdentityCredential")) == []
    idents = {r["name"] for r in default_plan.of_type(az("managedidentity:UserAssignedIdentity"))}
    assert idents == {"cluster-identity", "kubelet-identity", "encryption-identity"}
    kubelet = inputs(default_plan, az("containerservice:ManagedCluster"))["identityProfile"]["kubeletidentity"]
    storage = {name: g for name, g in _grants(default_plan).items() if name.startswith("nodes-")}
    assert set(storage) == {"nodes-data-read", "nodes-models-read", "nodes-runs-write"}
    assert {g["principalId"] for g in storage.values()} == {kubelet["objectId"]}


def test_no_role_is_owner_contributor_or_subscription_wide(default_plan):
    grants = _grants(default_plan)
    assert len(grants) >= 14           # every assignment the stack makes is checked below
    known = {*ROLES.values(), names.role_definition("acme-notes", SUB, "run-writer")}
    for name, g in grants.items():
        role = g["roleDefinitionId"].rsplit("/", 1)[-1]
        assert role in known and role not in (OWNER, CONTRIBUTOR, UAA), name
        assert "/resourceGroups/" in g["scope"], name          # never a whole subscription
        assert g["scope"].count("/providers/") >= 1, name      # never a whole resource group


def test_the_nodes_read_the_data_prefix_and_write_runs_without_deleting(default_plan):
    g = _grants(default_plan)
    data = g["nodes-data-read"]
    assert data["scope"] == f"{DATA}/blobServices/default/containers/notes"
    assert data["roleDefinitionId"].endswith(ROLES["Storage Blob Data Reader"])
    assert "StringStartsWith 'sft/'" in data["condition"] and data["conditionVersion"] == "2.0"
    runs = g["nodes-runs-write"]
    assert runs["scope"].endswith(f"/storageAccounts/{ACCOUNT}/blobServices/default/containers/artifacts")
    # The kit's own role: reads, writes and appends blobs, deletes none (no built-in one does).
    role = default_plan.one("azure-native:authorization:RoleDefinition")["inputs"]
    assert runs["roleDefinitionId"].endswith(f"/roleDefinitions/{role['roleDefinitionId']}")
    (perms,) = role["permissions"]
    blobs = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
    assert perms["dataActions"] == [f"{blobs}/read", f"{blobs}/write", f"{blobs}/add/action"]
    assert role["assignableScopes"] == [role["scope"]] and role["scope"].endswith("-kept")
    assert runs["condition"].count("StringStartsWith 'runs/'") == 2      # writes and reads
    models = g["nodes-models-read"]
    assert models["scope"].endswith("/containers/models") and "condition" not in models


def test_only_the_data_read_is_granted_on_the_data_account(default_plan):
    on_data = sorted(name for name, g in _grants(default_plan).items() if g["scope"].startswith(DATA))
    assert on_data == ["nodes-data-read"]


def test_a_held_out_set_elsewhere_is_refused_and_one_in_the_data_container_is_read():
    plan = plan_of(make_cfg(eval={"uri": f"az://{DATA_ACCOUNT}/notes/held-out/"}))
    grants = _grants(plan)
    # One assignment per principal, role and scope: Azure refuses a second (RoleAssignmentExists).
    assert "nodes-eval-read" not in grants
    read = grants["nodes-data-read"]["condition"]
    assert "StringStartsWith 'sft/'" in read and "StringStartsWith 'held-out/'" in read
    with pytest.raises(KitError, match=r"eval\.uri: az://other/notes/held/ must be in the data container"):
        plan_of(make_cfg(eval={"uri": "az://other/notes/held/"}))


def _takes_tags(typ: str) -> bool:
    import importlib

    _, module, cls = typ.split(":")
    klass = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), cls)
    return "tags" in inspect.signature(klass._internal_init).parameters


def test_every_taggable_resource_carries_the_stack_tag(default_plan):
    created = [r for r in default_plan.resources if r["type"].startswith("azure-native:") and not r["read"]]
    taggable = [r for r in created if _takes_tags(r["type"])]
    assert len(taggable) > 25 and any(not _takes_tags(r["type"]) for r in created)
    for r in taggable:
        assert r["inputs"].get("tags", {}).get(names.STACK_TAG) == "acme-notes", (r["type"], r["name"])
    for r in created:
        assert "pulumi:providers:azure-native::azure::" in r["provider"], r["name"]
    provider = inputs(default_plan, "pulumi:providers:azure-native")
    assert (provider["subscriptionId"], provider["location"]) == (SUB, "eastus2")


def test_outputs_follow_the_contract(default_plan):
    out = default_plan.outputs
    assert set(out) == set(ClusterOutputs.__dataclass_fields__)
    assert out["cloud"] == "azure" and out["cluster_name"] == "acme-notes"
    assert out["artifacts_uri"] == f"az://{ACCOUNT}/artifacts" and out["models_uri"] == f"az://{ACCOUNT}/models"
    assert out["registry_prefix"] == f"{names.registry('acme-notes', SUB)}.azurecr.io"
    # No workload identity to name: the pods' tokens come from their node's metadata endpoint.
    assert out["trainer_sa_annotations"] == {} and out["server_sa_annotations"] == {}


def test_render_and_the_offline_plan_name_the_same_resources(default_plan):
    from kit.render import cluster_for

    rendered = cluster_for(make_cfg())
    for key in ("artifacts_uri", "models_uri", "registry_prefix", "cluster_name", "internal_lb_annotations",
                "data_uri", "private_cidrs", "storage_cidrs", "gpu_tolerations", "model_storage_class"):
        assert default_plan.outputs[key] == getattr(rendered, key), key
    assert rendered.trainer_sa_annotations == {} == default_plan.outputs["trainer_sa_annotations"]


def test_missing_subscription_is_a_config_error_naming_the_key():
    with pytest.raises(KitError) as err:
        make_cfg(azure={"subscription_id": None})
    assert "azure.subscription_id: required for target azure: the subscription the stack deploys into" in \
        err.value.message
    assert "\n" not in err.value.one_line()


def test_missing_data_resource_group_names_the_key():
    with pytest.raises(KitError, match=r"azure\.data_resource_group: required for target azure \(the resource "
                                       r"group of acmeclinical"):
        plan_of(make_cfg(azure={"data_resource_group": None}))


def test_credentials_of_another_subscription_are_refused():
    from kit.infra.plan import run_plan
    from stacks.azure.mocks import AzureMocks

    other = "99999999-2222-3333-4444-555555555555"
    with pytest.raises(KitError, match=rf"azure\.subscription_id: {SUB}, but the credentials in use are for "
                                       rf"subscription {other}"):
        run_plan(make_cfg(), AzureMocks(subscription=SUB, caller_subscription=other))


def test_data_outside_blob_storage_is_refused():
    with pytest.raises(KitError, match=r"data\.uri: 's3://acme/sft/' is not an Azure blob URI"):
        plan_of(make_cfg(data={"uri": "s3://acme/sft/"}))


def test_only_the_nodes_identity_holds_storage_roles_and_it_deletes_nothing(default_plan):
    storage_roles = {ROLES["Storage Blob Data Reader"], ROLES["Storage Blob Data Contributor"],
                     names.role_definition("acme-notes", SUB, "run-writer")}
    holders = sorted(name for name, g in _grants(default_plan).items()
                     if g["roleDefinitionId"].rsplit("/", 1)[-1] in storage_roles)
    assert holders == ["nodes-data-read", "nodes-models-read", "nodes-runs-write"]
    for role in default_plan.of_type("azure-native:authorization:RoleDefinition"):
        for perms in role["inputs"]["permissions"]:
            assert not [a for a in perms["dataActions"] if a.endswith("/delete")]


def test_the_key_is_created_by_an_operator_the_rbac_vault_admits():
    """ARM creates the key, yet an RBAC vault still asks for a data-plane role."""
    plan = plan_of()
    officer = _grants(plan)["operator-key-officer"]
    assert officer["roleDefinitionId"].endswith("/roleDefinitions/14b46e9e-c2b7-41b4-b07b-48a6ebf60603")
    assert officer["scope"].endswith(f"/vaults/{names.key_vault('acme-notes', SUB)}")
    key = plan.one(az("keyvault:Key"))
    grant_urn = plan.one(az("authorization:RoleAssignment"), "operator-key-officer")["urn"]
    assert grant_urn in key["depends_on"]
    # Rotated yearly, no version ever expires (the cluster's KMS keeps the version it has).
    assert key["inputs"]["properties"]["rotationPolicy"] == {"lifetimeActions": [
        {"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": "P1Y"}}]}


def test_the_registry_is_one_aks_can_bootstrap_from():
    for plan in (plan_of(), plan_of(make_cfg(azure={"zone_redundant": False}))):
        registry = inputs(plan, az("containerregistry:Registry"))
        assert registry["zoneRedundancy"] == "Enabled"
        assert "azureADAuthenticationAsArmPolicy" not in registry.get("policies", {})


def test_a_data_endpoint_the_operator_cannot_approve_is_left_as_a_request():
    def endpoint(plan):
        return inputs(plan, az("network:PrivateEndpoint"), "endpoint-data-blob")

    assert "privateLinkServiceConnections" in endpoint(plan_of())
    manual = endpoint(plan_of(make_cfg(azure={"data_endpoint_approval": "manual"})))
    (connection,) = manual["manualPrivateLinkServiceConnections"]
    assert connection["groupIds"] == ["blob"] and "privateLinkServiceConnections" not in manual
