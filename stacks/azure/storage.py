"""Storage: the kit's own account (containers `artifacts` and `models`) and the customer's
data account.

The kit's account: no public network access (reached through its private endpoint) except from
network.operator_cidrs, exactly those, so the mirror phase can write weights from the
operator's machine; no
anonymous blob access, no shared keys (Entra ID only, so no key can leak), TLS 1.2 minimum,
infrastructure encryption plus the kit's customer-managed key, versioning and soft delete
(what a run overwrites is kept). It lives in the kept resource group, is retained by a plain
`kit down` and adopted by the next `kit up`.

The data account is only read (`StorageAccount.get`): Pulumi never creates, changes or
deletes it. The cluster reaches it through a private endpoint of the kit's.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from kit.errors import KitError
from stacks.azure import names
from stacks.azure.common import Ctx
from stacks.azure.defaults import data_location
from stacks.azure.keys import Keys
from stacks.azure.network import Network, private_endpoint
from stacks.azure.operator import ip_rules, public_access


@dataclass
class Storage:
    account: azure.storage.StorageAccount
    account_name: str
    containers: dict[str, azure.storage.BlobContainer]
    data: azure.storage.StorageAccount
    data_container_id: str             # the ARM id the trainer's read role is scoped to
    data_account_name: str
    data_container: str
    data_prefix: str


def container_id(account_id: pulumi.Input[str], container: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(account_id, "/blobServices/default/containers/", container)


def storage(ctx: Ctx, net: Network, keys: Keys, data_uri: str,
            operator_cidrs: list[str]) -> Storage:
    name = names.storage_account(ctx.name, ctx.subscription)
    account = azure.storage.StorageAccount(
        "storage", account_name=name, resource_group_name=ctx.kept.name, location=ctx.location,
        tags=ctx.tags, kind="StorageV2", access_tier="Hot",
        sku={"name": "Standard_ZRS" if ctx.azure.zone_redundant else "Standard_LRS"},
        allow_blob_public_access=False, allow_shared_key_access=False,
        default_to_o_auth_authentication=True, minimum_tls_version="TLS1_2",
        enable_https_traffic_only=True, public_network_access=public_access(operator_cidrs),
        allow_cross_tenant_replication=False, is_local_user_enabled=False, is_sftp_enabled=False,
        network_rule_set={"default_action": "Deny", "bypass": "None",
                          "ip_rules": ip_rules(operator_cidrs, bare_hosts=True),
                          "virtual_network_rules": []},
        identity={"type": "UserAssigned", "user_assigned_identities": [keys.identity.id]},
        encryption={
            "key_source": "Microsoft.Keyvault", "require_infrastructure_encryption": True,
            # Versionless: the account follows the key's rotation.
            "key_vault_properties": {"key_name": names.KEY, "key_vault_uri": keys.vault.properties.vault_uri},
            "encryption_identity": {"encryption_user_assigned_identity": keys.identity.id},
            "services": {"blob": {"enabled": True, "key_type": "Account"},
                         "file": {"enabled": True, "key_type": "Account"}},
        },
        opts=ctx.kept_opts("storage", depends_on=[keys.key_grant]))
    azure.storage.BlobServiceProperties(
        "storage-blob-service", account_name=account.name, resource_group_name=ctx.kept.name,
        blob_services_name="default", is_versioning_enabled=True,
        delete_retention_policy={"enabled": True, "days": 30},
        container_delete_retention_policy={"enabled": True, "days": 30},
        opts=ctx.kept_opts("storage-blob-service", parent=account))
    containers = {
        purpose: azure.storage.BlobContainer(
            f"container-{purpose}", container_name=purpose, account_name=account.name,
            resource_group_name=ctx.kept.name, public_access="None",
            opts=ctx.kept_opts(f"container-{purpose}", parent=account))
        for purpose in names.KIT_CONTAINERS}
    private_endpoint(ctx, "storage-blob", net, account.id, "blob", "blob")
    data_account, data_container, data_prefix = data_location(data_uri)
    if data_account == name:
        raise KitError(f"data.uri: {data_uri} is in the kit's own storage account",
                       hint="keep the data in an account of yours; the kit only reads it")
    group = ctx.azure.data_resource_group
    if not group:
        raise KitError("azure.data_resource_group: required for target azure (the resource group "
                       f"of {data_account}, the account data.uri names)",
                       hint=f"az storage account show -n {data_account} --query resourceGroup")
    data_id = names.arm_id(ctx.subscription, group, f"Microsoft.Storage/storageAccounts/{data_account}")
    data = azure.storage.StorageAccount.get("data", data_id, opts=ctx.opts())
    private_endpoint(ctx, "data-blob", net, data_id, "blob", "blob",
                     manual=ctx.azure.data_endpoint_approval == "manual")
    return Storage(account=account, account_name=name, containers=containers, data=data,
                   data_container_id=f"{data_id}/blobServices/default/containers/{data_container}",
                   data_account_name=data_account, data_container=data_container,
                   data_prefix=data_prefix)
