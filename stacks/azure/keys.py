"""The kit's Key Vault and its one customer-managed key: the storage account, node disks (a
disk encryption set) and Kubernetes secrets (KMS) are encrypted with it.

The vault uses Azure RBAC (no access policies), purge protection (a deleted key cannot be
destroyed early, so data encrypted with it cannot be lost to one mistake) and no public
network access: the cluster's KMS plugin reaches it through its private endpoint; storage and
disks through Azure's trusted-service path. Vault and key live in the kept
resource group and outlive a plain `kit down` like the data they encrypt, and are adopted by
the next `kit up`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_azure_native as azure

from stacks.azure import names
from stacks.azure.common import Ctx, grant, user_identity

KEY_SIZE = 3072
SOFT_DELETE_DAYS = 90


@dataclass
class Keys:
    vault: azure.keyvault.Vault
    key: azure.keyvault.Key
    # The identity the storage account and the disk encryption set use the key as.
    identity: azure.managedidentity.UserAssignedIdentity
    key_grant: azure.authorization.RoleAssignment
    disks: azure.compute.DiskEncryptionSet
    vault_name: str


def keys(ctx: Ctx) -> Keys:
    vault_name = names.key_vault(ctx.name, ctx.subscription)
    vault = azure.keyvault.Vault(
        "vault", vault_name=vault_name, resource_group_name=ctx.kept.name, location=ctx.location,
        tags=ctx.tags,
        properties={
            "tenant_id": ctx.tenant, "sku": {"family": "A", "name": "premium"},
            "enable_rbac_authorization": True, "enable_purge_protection": True,
            "enable_soft_delete": True, "soft_delete_retention_in_days": SOFT_DELETE_DAYS,
            "public_network_access": "Disabled",
            "network_acls": {"default_action": "Deny", "bypass": "AzureServices",
                             "ip_rules": [], "virtual_network_rules": []},
            "enabled_for_deployment": False, "enabled_for_template_deployment": False,
            "enabled_for_disk_encryption": False,
        },
        opts=ctx.kept_opts("vault"))
    # The key is created through ARM, which still needs a data-plane role on an RBAC vault.
    officer = grant(ctx, "operator-key-officer", ctx.operator, "Key Vault Crypto Officer", vault.id,
                    principal_type=None, parent=vault)
    key = azure.keyvault.Key(
        "key", key_name=names.KEY, vault_name=vault.name, resource_group_name=ctx.kept.name,
        tags=ctx.tags,
        properties={"kty": "RSA", "key_size": KEY_SIZE,
                    "key_ops": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
                    # Rotated yearly; versions never expire: the cluster's KMS stays on the
                    # version it was given until `kit up` moves it, and must still decrypt.
                    "rotation_policy": {"lifetime_actions": [
                        {"action": {"type": "rotate"}, "trigger": {"time_after_create": "P1Y"}}]}},
        opts=ctx.kept_opts("key", parent=vault, depends_on=[officer]))
    identity = user_identity(ctx, "encryption", kept=True)
    # Wrap and unwrap with this one key: nothing else in the vault, no key management.
    key_grant = grant(ctx, "encryption-key-user", identity.principal_id,
                      "Key Vault Crypto Service Encryption User", key.id, kept=True, parent=identity)
    disks = azure.compute.DiskEncryptionSet(
        "disk-encryption", disk_encryption_set_name=f"{ctx.name}-disks",
        resource_group_name=ctx.group.name, location=ctx.location, tags=ctx.tags,
        encryption_type="EncryptionAtRestWithCustomerKey",
        active_key={"key_url": key.key_uri_with_version, "source_vault": {"id": vault.id}},
        identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
        rotation_to_latest_key_version_enabled=True,
        opts=ctx.opts(depends_on=[key_grant]))
    return Keys(vault=vault, key=key, identity=identity, key_grant=key_grant, disks=disks,
                vault_name=vault_name)


def audit_workspace(ctx: Ctx) -> azure.operationalinsights.Workspace:
    """The audit trail's workspace (control-plane logs): kept by a plain `kit down` for
    logs.retention_days, deleted only by --purge. Interactive retention is at most 730 days;
    the audit tables keep the rest archived (total retention)."""
    days = ctx.log_retention_days
    interactive = max(30, min(days, 730))
    ws = azure.operationalinsights.Workspace(
        "audit-logs", workspace_name=names.workspace(ctx.name), resource_group_name=ctx.kept.name,
        location=ctx.location, tags=ctx.tags, sku={"name": "PerGB2018"},
        retention_in_days=interactive,
        # Diagnostic settings deliver platform logs without the public ingestion endpoint.
        public_network_access_for_ingestion="Disabled", public_network_access_for_query="Enabled",
        features={"disable_local_auth": True, "enable_log_access_using_only_resource_permissions": True},
        opts=ctx.kept_opts("audit-logs"))
    for table in names.AUDIT_TABLES:
        azure.operationalinsights.Table(
            f"audit-table-{table}", table_name=table, workspace_name=ws.name,
            resource_group_name=ctx.kept.name, retention_in_days=interactive,
            total_retention_in_days=max(days, interactive), opts=ctx.kept_opts(f"audit-table-{table}", parent=ws))
    return ws

