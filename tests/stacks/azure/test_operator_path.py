"""The operator's path on Azure: with network.operator_cidrs the AKS API server, the kit's
registry and its storage account each admit exactly those addresses from the internet (so
`kit up` can create Kubernetes objects, push images and mirror weights from the operator's
machine); without them all three are closed. The key vault stays closed either way: AKS KMS
does not support a vault whose firewall admits public addresses
(https://learn.microsoft.com/en-us/azure/aks/use-kms-etcd-encryption, Limitations, read
2026-12-07)."""

from __future__ import annotations

from tests.stacks.azure.conftest import az, inputs, make_cfg, plan_of

CIDRS = ["203.0.113.0/24", "198.51.100.7/32"]


def _open_plan():
    return plan_of(make_cfg(network={"operator_cidrs": CIDRS}))


def test_registry_admits_exactly_the_operators_addresses():
    r = inputs(_open_plan(), az("containerregistry:Registry"))
    assert r["publicNetworkAccess"] == "Enabled"
    assert r["networkRuleSet"] == {"defaultAction": "Deny", "ipRules": [
        {"action": "Allow", "iPAddressOrRange": "203.0.113.0/24"},
        {"action": "Allow", "iPAddressOrRange": "198.51.100.7/32"}]}
    assert r["networkRuleBypassOptions"] == "None" and r["anonymousPullEnabled"] is False


def test_storage_admits_exactly_the_operators_addresses_a_host_as_a_bare_address():
    """Storage accounts refuse /31 and /32 prefixes in IP rules
    (https://learn.microsoft.com/en-us/azure/storage/common/storage-network-security, read
    2026-12-07): a single host is written as the address."""
    a = inputs(_open_plan(), az("storage:StorageAccount"), "storage")
    assert a["publicNetworkAccess"] == "Enabled"
    rules = a["networkRuleSet"]
    assert rules["defaultAction"] == "Deny" and rules["bypass"] == "None"
    assert rules["ipRules"] == [{"action": "Allow", "iPAddressOrRange": "203.0.113.0/24"},
                                {"action": "Allow", "iPAddressOrRange": "198.51.100.7"}]
    assert a["allowSharedKeyAccess"] is False and a["allowBlobPublicAccess"] is False


def test_without_operator_cidrs_registry_and_storage_are_closed(default_plan):
    r = inputs(default_plan, az("containerregistry:Registry"))
    a = inputs(default_plan, az("storage:StorageAccount"), "storage")
    assert r["publicNetworkAccess"] == "Disabled" and "networkRuleSet" not in r
    assert a["publicNetworkAccess"] == "Disabled" and a["networkRuleSet"]["ipRules"] == []


def test_the_key_vault_stays_private_with_operator_cidrs():
    v = inputs(_open_plan(), az("keyvault:Vault"))["properties"]
    assert v["publicNetworkAccess"] == "Disabled" and v["networkAcls"]["ipRules"] == []
