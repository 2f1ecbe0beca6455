"""The kit's private endpoint and DNS for its key vault cannot conflict with what AKS makes for
KMS with a private vault.

AKS documents that with KMS on a private key vault it "automatically creates a private endpoint
and a private link in the node resource group" (MicrosoftDocs/azure-aks-docs,
articles/aks/use-kms-etcd-encryption.md, as of its Aug 2026 commit, read 2026-12-07): no private
DNS zone. A VNet may be linked to one zone of a name only ("A virtual network cannot be linked
to multiple zones with overlapping namespaces", MicrosoftDocs/azure-aks-docs#212), so the kit
links exactly one privatelink.vaultcore.azure.net zone, its own, to the VNet, and that zone
resolves the vault for the VNet-integrated API server. The same page requires the vault to
have a private endpoint before keys are created or updated in it, and the API server to reach
that endpoint on 443: the kit's endpoint exists before the cluster, and the endpoints' subnet
admits HTTPS from the VNet.
"""

from __future__ import annotations

from tests.stacks.azure.conftest import az, inputs


def test_the_vnet_is_linked_to_one_vault_zone_the_kits(default_plan):
    zones = {r["urn"]: inputs(default_plan, az("privatedns:PrivateZone"), r["name"])["privateZoneName"]
             for r in default_plan.of_type(az("privatedns:PrivateZone"))}
    links = default_plan.of_type(az("privatedns:VirtualNetworkLink"))
    vault_links = [ln for ln in links if zones.get(ln["parent"]) == "privatelink.vaultcore.azure.net"]
    assert len(vault_links) == 1
    assert vault_links[0]["inputs"]["registrationEnabled"] is False


def test_the_cluster_waits_for_the_kits_vault_endpoint_and_its_dns(default_plan):
    cluster = default_plan.one(az("containerservice:ManagedCluster"))
    dns = default_plan.one(az("network:PrivateDnsZoneGroup"), "endpoint-vault-dns")
    assert dns["urn"] in cluster["depends_on"]
    kms = cluster["inputs"]["securityProfile"]["azureKeyVaultKms"]
    assert kms["keyVaultNetworkAccess"] == "Private"


def test_the_api_server_reaches_the_vault_endpoint_on_443(default_plan):
    rules = inputs(default_plan, az("network:NetworkSecurityGroup"), "endpoints-nsg")["securityRules"]
    allow = next(r for r in rules if r["access"] == "Allow" and r["direction"] == "Inbound")
    assert (allow["sourceAddressPrefix"], allow["destinationPortRange"]) == ("VirtualNetwork", "443")
