"""Network invariants on the Azure plan: no public IP and no NAT gateway unless
`network.egress`; subnets without default outbound access; NSGs that admit nothing from the
internet and, without egress, let nothing out (no service tag); private endpoints with private
DNS for storage, data, key vault and registry; a DNS security policy answering no public name;
an existing VNet used as given (and refused when it routes to the internet); storage pods
reach only the private endpoints and their node's metadata endpoint."""

from __future__ import annotations

import re

import pytest

from kit.errors import KitError
from stacks.azure.mocks import AzureMocks
from tests.stacks.azure.conftest import EXISTING_VNET, SUB, VNET, az, inputs, make_cfg, plan_of

NSG = az("network:NetworkSecurityGroup")
CLUSTER = az("containerservice:ManagedCluster")
OPEN = ("*", "Internet", "0.0.0.0/0", "Any")


def _subnets(plan) -> dict[str, dict]:
    return {s["name"]: s for s in inputs(plan, az("network:VirtualNetwork"))["subnets"]}


def test_without_egress_there_is_no_way_out_at_all(default_plan):
    """No NAT gateway, no public address, and no NSG rule opening an internet service tag:
    Microsoft Entra ID's sign-in endpoints (the AzureActiveDirectory tag) serve every tenant,
    so a way there is a way to an attacker's tenant."""
    for kind in ("network:PublicIPPrefix", "network:BastionHost", "network:LoadBalancer",
                 "network:NatGateway", "network:PublicIPAddress"):
        assert default_plan.of_type(az(kind)) == [], kind
    subnets = _subnets(default_plan)
    assert set(subnets) == {"nodes", "endpoints", "apiserver"}
    for subnet in subnets.values():
        assert subnet["defaultOutboundAccess"] is False and "natGateway" not in subnet
    for nsg in default_plan.of_type(NSG):
        for rule in nsg["inputs"]["securityRules"]:
            if rule["direction"] == "Outbound" and rule["access"] == "Allow":
                assert rule["destinationAddressPrefix"] == "VirtualNetwork", (nsg["name"], rule)
    assert inputs(default_plan, CLUSTER)["networkProfile"]["outboundType"] == "none"


def test_no_node_has_a_public_ip(default_plan, egress_plan):
    for plan in (default_plan, egress_plan):
        (system,) = inputs(plan, CLUSTER)["agentPoolProfiles"]
        gpu = inputs(plan, az("containerservice:AgentPool"), "gpu")
        assert system["enableNodePublicIP"] is False and gpu["enableNodePublicIP"] is False
        assert "nodePublicIPPrefixID" not in system and "nodePublicIPPrefixID" not in gpu


def test_egress_adds_one_nat_gateway_on_the_node_subnet(egress_plan):
    (nat,) = egress_plan.of_type(az("network:NatGateway"))
    (ip,) = egress_plan.of_type(az("network:PublicIPAddress"))
    assert ip["inputs"]["sku"] == {"name": "Standard", "tier": "Regional"}
    assert nat["inputs"]["publicIpAddresses"] == [{"id": f"/subscriptions/{SUB}/resourceGroups/lima-kit-acme-notes/"
                                                         "providers/Microsoft.Network/publicIPAddresses/acme-notes-nat"}]
    subnets = _subnets(egress_plan)
    assert subnets["nodes"]["natGateway"]["id"].endswith("/natGateways/acme-notes-nat")
    assert "natGateway" not in subnets["endpoints"] and "natGateway" not in subnets["apiserver"]
    assert inputs(egress_plan, CLUSTER)["networkProfile"]["outboundType"] == "userAssignedNATGateway"
    rules = {r["name"] for r in inputs(egress_plan, NSG, "nodes-nsg")["securityRules"]}
    assert "deny-internet-outbound" not in rules and "deny-internet-inbound" in rules


@pytest.mark.parametrize("which", ["default", "egress"])
def test_nsgs_admit_nothing_from_the_internet(default_plan, egress_plan, which):
    plan = default_plan if which == "default" else egress_plan
    nsgs = {r["name"]: r["inputs"]["securityRules"] for r in plan.of_type(NSG)}
    assert set(nsgs) == {"nodes-nsg", "endpoints-nsg", "apiserver-nsg"}
    operators = ["203.0.113.0/24"] if which == "egress" else []
    for name, rules in nsgs.items():
        inbound = [r for r in rules if r["direction"] == "Inbound"]
        for rule in inbound:
            if rule["access"] == "Allow" and "sourceAddressPrefixes" in rule:
                # The API server's subnet, when it has a public endpoint: exactly the operators'.
                assert (name, rule["sourceAddressPrefixes"], rule["destinationPortRange"]) == (
                    "apiserver-nsg", operators, "443")
            elif rule["access"] == "Allow":
                assert rule["sourceAddressPrefix"] not in OPEN, (name, rule)
                assert rule["sourceAddressPrefix"] == "VirtualNetwork"
        denies = [r for r in inbound if r["access"] == "Deny" and r.get("sourceAddressPrefix") in ("Internet", "*")]
        allowed = [r["sourceAddressPrefixes"] for r in inbound if "sourceAddressPrefixes" in r]
        assert allowed == ([operators] if operators and name == "apiserver-nsg" else []), name
        assert denies and all(r["destinationPortRange"] == "*" for r in denies), name


def test_without_egress_the_node_nsg_denies_the_internet_and_allows_no_tag(default_plan):
    rules = {r["name"]: r for r in inputs(default_plan, NSG, "nodes-nsg")["securityRules"]
             if r["direction"] == "Outbound"}
    assert set(rules) == {"deny-internet-outbound"}
    assert rules["deny-internet-outbound"]["destinationAddressPrefix"] == "Internet"
    assert rules["deny-internet-outbound"]["access"] == "Deny"


def test_private_endpoints_for_storage_data_vault_and_registry(default_plan):
    endpoints = {r["name"]: r["inputs"] for r in default_plan.of_type(az("network:PrivateEndpoint"))}
    base = f"/subscriptions/{SUB}/resourceGroups"
    targets = {name: (e["privateLinkServiceConnections"][0]["privateLinkServiceId"],
                      e["privateLinkServiceConnections"][0]["groupIds"]) for name, e in endpoints.items()}
    assert targets == {
        "endpoint-storage-blob": (f"{base}/lima-kit-acme-notes-kept/providers/Microsoft.Storage/storageAccounts/"
                                  f"{default_plan.outputs['artifacts_uri'].split('/')[2]}", ["blob"]),
        "endpoint-data-blob": (f"{base}/acme-data/providers/Microsoft.Storage/storageAccounts/acmeclinical",
                               ["blob"]),
        "endpoint-vault": (f"{base}/lima-kit-acme-notes-kept/providers/Microsoft.KeyVault/vaults/"
                           "kv-acmenotes-215f6852", ["vault"]),
        "endpoint-registry": (f"{base}/lima-kit-acme-notes/providers/Microsoft.ContainerRegistry/registries/"
                              f"{default_plan.outputs['registry_prefix'].split('.')[0]}", ["registry"]),
    }
    for e in endpoints.values():
        assert e["subnet"]["id"].endswith("/virtualNetworks/acme-notes-vnet/subnets/endpoints")
    groups = {r["inputs"]["privateEndpointName"]: r["inputs"]["privateDnsZoneConfigs"][0]["privateDnsZoneId"]
              for r in default_plan.of_type(az("network:PrivateDnsZoneGroup"))}
    assert groups["acme-notes-storage-blob"].endswith("/privateDnsZones/privatelink.blob.core.windows.net")
    assert groups["acme-notes-data-blob"].endswith("/privateDnsZones/privatelink.blob.core.windows.net")
    assert groups["acme-notes-vault"].endswith("/privateDnsZones/privatelink.vaultcore.azure.net")
    assert groups["acme-notes-registry"].endswith("/privateDnsZones/privatelink.azurecr.io")


def test_private_dns_zones_are_linked_to_the_vnet_without_registration(default_plan):
    zones = {r["inputs"]["privateZoneName"] for r in default_plan.of_type(az("privatedns:PrivateZone"))}
    assert zones == {"privatelink.blob.core.windows.net", "privatelink.azurecr.io",
                     "privatelink.vaultcore.azure.net"}
    links = default_plan.of_type(az("privatedns:VirtualNetworkLink"))
    assert len(links) == 3
    for link in links:
        assert link["inputs"]["registrationEnabled"] is False
        assert link["inputs"]["virtualNetwork"]["id"].endswith("/virtualNetworks/acme-notes-vnet")


def test_endpoint_subnet_applies_its_nsg_to_private_endpoints(default_plan):
    subnets = _subnets(default_plan)
    assert subnets["endpoints"]["privateEndpointNetworkPolicies"] == "Enabled"
    assert subnets["endpoints"]["networkSecurityGroup"]["id"].endswith("/networkSecurityGroups/acme-notes-endpoints")
    assert subnets["apiserver"]["delegations"] == [
        {"name": "aks-apiserver", "serviceName": "Microsoft.ContainerService/managedClusters"}]


@pytest.mark.parametrize("which", ["default", "egress"])
def test_storage_pods_reach_only_the_private_endpoints_and_their_nodes_metadata(default_plan, egress_plan,
                                                                               which):
    plan = default_plan if which == "default" else egress_plan
    policy = inputs(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "networkpolicy:lima-kit/allow-storage")
    rules = policy["spec"]["egress"]
    cidrs = [(peer["ipBlock"]["cidr"], rule["ports"]) for rule in rules for peer in rule["to"]]
    https = [{"protocol": "TCP", "port": 443}]
    assert cidrs == [("10.42.255.0/24", https), ("169.254.169.254/32", [{"protocol": "TCP", "port": 80}])]
    assert plan.outputs["storage_cidrs"] == ["10.42.255.0/24"]
    assert not any(c == "0.0.0.0/0" for c, _ in cidrs)


def test_existing_vnet_is_used_as_given(existing_plan):
    assert existing_plan.of_type(az("network:VirtualNetwork")) == []
    assert existing_plan.of_type(NSG) == [] and existing_plan.of_type(az("network:NatGateway")) == []
    gpu = inputs(existing_plan, az("containerservice:AgentPool"), "gpu")
    assert gpu["vnetSubnetID"] == EXISTING_VNET["node_subnet_id"]
    c = inputs(existing_plan, CLUSTER)
    assert c["agentPoolProfiles"][0]["vnetSubnetID"] == EXISTING_VNET["node_subnet_id"]
    assert c["apiServerAccessProfile"]["subnetId"] == EXISTING_VNET["apiserver_subnet_id"]
    for e in existing_plan.of_type(az("network:PrivateEndpoint")):
        assert e["inputs"]["subnet"]["id"] == EXISTING_VNET["endpoint_subnet_id"]
    for link in existing_plan.of_type(az("privatedns:VirtualNetworkLink")):
        assert link["inputs"]["virtualNetwork"]["id"] == VNET
    # The endpoints' subnet as Azure reports it (the mocks' answer), and the VNet's space.
    assert existing_plan.outputs["storage_cidrs"] == ["10.0.2.0/24"]
    assert existing_plan.outputs["private_cidrs"] == ["10.0.0.0/16"]


def _existing_with(calls: dict, **azure):
    from kit.infra.plan import run_plan

    cfg = make_cfg(azure={**EXISTING_VNET, **azure})
    return run_plan(cfg, AzureMocks(subscription=SUB, calls=calls))


def _nodes_subnet(**extra) -> dict:
    """getSubnet's answer (for each of the three subnets): an NSG, default outbound access off."""
    return {"azure-native:network:getSubnet": {
        "name": "nodes", "addressPrefix": "10.0.0.0/24", "defaultOutboundAccess": False,
        "networkSecurityGroup": {"id": f"{VNET.rsplit('/', 2)[0]}/networkSecurityGroups/hub-nsg"}, **extra}}


def test_existing_subnet_with_a_nat_gateway_is_refused_without_egress():
    with pytest.raises(KitError, match=r"azure\.node_subnet_id: nodes has a NAT gateway but network\.egress is false"):
        _existing_with(_nodes_subnet(natGateway={"id": f"{VNET}/natGateways/x"}))


@pytest.mark.parametrize("hop, outbound, message", [
    ("Internet", "none", r"sends 0\.0\.0\.0/0 to the internet but network\.egress is false"),
    ("VirtualAppliance", "none", r"azure\.outbound_type: none, but the node subnet's route table sends"),
])
def test_existing_subnet_routing_out_is_refused(hop, outbound, message):
    calls = {**_nodes_subnet(routeTable={"id": f"{VNET.rsplit('/', 2)[0]}/routeTables/hub-rt"}),
             "azure-native:network:getRouteTable": {"routes": [
                 {"addressPrefix": "0.0.0.0/0", "nextHopType": hop, "nextHopIpAddress": "10.9.0.4"}]}}
    with pytest.raises(KitError, match=message):
        _existing_with(calls, outbound_type=outbound)


def _routes(*routes) -> dict:
    return {**_nodes_subnet(routeTable={"id": f"{VNET.rsplit('/', 2)[0]}/routeTables/hub-rt"}),
            "azure-native:network:getRouteTable": {"routes": [
                {"addressPrefix": p, "nextHopType": hop, "nextHopIpAddress": "10.9.0.4"} for p, hop in routes]}}


@pytest.mark.parametrize("prefix", ["0.0.0.0/1", "128.0.0.0/1", "52.0.0.0/8", "::/0", "Internet", "AzureCloud"])
def test_every_public_route_to_the_internet_is_refused(prefix):
    """Split defaults and any public block or service tag sent to next hop Internet (Azure
    routes take CIDRs or service tags as the address prefix:
    https://learn.microsoft.com/en-us/azure/virtual-network/virtual-networks-udr-overview,
    read 2026-12-07)."""
    with pytest.raises(KitError, match=rf"sends {re.escape(prefix)} to the internet but network\.egress is false"):
        _existing_with(_routes(("10.0.0.0/8", "VirtualAppliance"), (prefix, "Internet")),
                       outbound_type="userDefinedRouting")


@pytest.mark.parametrize("hop", ["VirtualAppliance", "VirtualNetworkGateway"])
def test_a_split_default_to_an_appliance_needs_user_defined_routing(hop):
    with pytest.raises(KitError, match=rf"azure\.outbound_type: none, but the node subnet's route table sends "
                                       rf"0\.0\.0\.0/1 to {hop}"):
        _existing_with(_routes(("0.0.0.0/1", hop)), outbound_type="none")


def test_private_routes_and_blackholes_pass():
    plan = _existing_with(_routes(("10.0.0.0/8", "VirtualAppliance"), ("0.0.0.0/0", "None")))
    assert inputs(plan, CLUSTER)["networkProfile"]["outboundType"] == "none"


def test_a_subnet_without_an_nsg_is_refused():
    answer = _nodes_subnet()
    del answer["azure-native:network:getSubnet"]["networkSecurityGroup"]
    with pytest.raises(KitError, match=r"azure\.node_subnet_id: nodes has no network security group"):
        _existing_with(answer)


@pytest.mark.parametrize("value", [True, None])
def test_default_outbound_access_is_refused(value):
    """A subnet's default outbound access gives VMs without a public address an implicit one
    (https://learn.microsoft.com/en-us/azure/virtual-network/ip-services/default-outbound-access,
    read 2026-12-07); unset reads as on for subnets made before private subnets existed."""
    answer = _nodes_subnet(defaultOutboundAccess=value)
    if value is None:
        del answer["azure-native:network:getSubnet"]["defaultOutboundAccess"]
    with pytest.raises(KitError, match=r"azure\.node_subnet_id: nodes has default outbound access"):
        _existing_with(answer)


def test_existing_subnet_routing_to_your_firewall_needs_user_defined_routing():
    calls = {**_nodes_subnet(routeTable={"id": f"{VNET.rsplit('/', 2)[0]}/routeTables/hub-rt"}),
             "azure-native:network:getRouteTable": {"routes": [
                 {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.9.0.4"}]}}
    plan = _existing_with(calls, outbound_type="userDefinedRouting")
    assert inputs(plan, CLUSTER)["networkProfile"]["outboundType"] == "userDefinedRouting"


def test_egress_with_an_existing_vnet_is_refused():
    with pytest.raises(KitError, match=r"network\.egress: with an existing VNet the kit adds no NAT gateway"):
        plan_of(make_cfg(azure=EXISTING_VNET, network={"egress": True}))


def test_no_public_name_resolves_in_the_vnet(default_plan, egress_plan):
    """A DNS security policy linked to the VNet: the names the deployment resolves are allowed
    first (priority 100), every other name (the root, ".") blocked after (lower numbers first;
    rules respect the domain hierarchy; one policy per VNet, same region:
    https://learn.microsoft.com/en-us/azure/dns/dns-security-policy, read 2026-12-07)."""
    policy = inputs(default_plan, az("dnsresolver:DnsResolverPolicy"))
    assert policy["location"] == "eastus2"
    lists = {r["name"]: r["inputs"]["domains"] for r in default_plan.of_type(az("dnsresolver:DnsResolverDomainList"))}
    assert lists["dns-every-name"] == ["."]
    zones = {r["inputs"]["privateZoneName"] for r in default_plan.of_type(az("privatedns:PrivateZone"))}
    allowed = lists["dns-allowed-names"]
    for zone in zones:      # each private endpoint's zone, through the public name's CNAME
        assert any(zone.endswith("." + a.rstrip(".")) for a in allowed), zone
    rules = {r["inputs"]["dnsSecurityRuleName"]: r["inputs"]
             for r in default_plan.of_type(az("dnsresolver:DnsSecurityRule"))}
    assert set(rules) == {"allow-kit-names", "block-other-names"}
    allow, block = rules["allow-kit-names"], rules["block-other-names"]
    assert allow["action"] == {"actionType": "Allow"} and block["action"]["actionType"] == "Block"
    assert allow["priority"] < block["priority"]
    assert allow["dnsResolverDomainLists"][0]["id"].endswith("/dnsResolverDomainLists/acme-notes-allowed")
    assert block["dnsResolverDomainLists"][0]["id"].endswith("/dnsResolverDomainLists/acme-notes-every-name")
    link = inputs(default_plan, az("dnsresolver:DnsResolverPolicyVirtualNetworkLink"))
    assert link["virtualNetwork"]["id"].endswith("/virtualNetworks/acme-notes-vnet")
    assert egress_plan.of_type(az("dnsresolver:DnsResolverPolicy")) == []


def test_an_existing_vnet_with_its_own_dns_servers_is_refused():
    """A VNet's custom DNS servers answer its VMs' queries instead of Azure-provided DNS, where
    the DNS security policy filters them (the policy filters "DNS queries at the virtual network
    (VNet) level": https://learn.microsoft.com/en-us/azure/dns/dns-security-policy, read
    2026-12-07; a server of the customer's could answer any public name, unfiltered)."""
    vnet = {"azure-native:network:getVirtualNetwork": {
        "id": VNET, "name": "hub", "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "dhcpOptions": {"dnsServers": ["10.9.0.53"]}}}
    with pytest.raises(KitError, match=r"azure\.node_subnet_id: VNet hub sends DNS to 10\.9\.0\.53"):
        _existing_with({**_nodes_subnet(), **vnet})
