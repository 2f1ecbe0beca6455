"""Private network: a VNet with a node subnet, a private-endpoint subnet and the API server's
subnet; NSGs that admit nothing from the internet; private endpoints (with private DNS zones
linked to the VNet) for the kit's storage, the customer's data account, the key vault and the
registry. Nodes have no public addresses.

No way out unless `network.egress: true`: no NAT gateway, no public address, and the node NSG
admits no internet service tag (AzureActiveDirectory included: Microsoft Entra ID's sign-in
endpoints serve every tenant, so a way there is a way to an attacker's tenant). Pods get
storage tokens from the instance metadata endpoint on their node (stacks/azure/identity.py),
which needs no network path out. With egress the node subnet gets a NAT gateway and the NSG lets
everything out. A DNS security policy on the VNet answers no public name
(stacks/azure/dns.py).

Subnets are declared inside the VNet (Azure rewrites a VNet's subnet list on every update,
so separate Subnet resources would fight it), with default outbound access off: a VM in them
has no implicit way out. An existing VNet (azure.*_subnet_id) is used as given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native as azure

from kit.errors import KitError
from stacks.azure.common import Ctx
from stacks.azure.defaults import subnet_cidrs

# Private DNS zone of each private endpoint group (Azure's "privatelink" zones).
ZONES = {"blob": "privatelink.blob.core.windows.net", "registry": "privatelink.azurecr.io",
         "vault": "privatelink.vaultcore.azure.net"}
DENY_INTERNET = {"name": "deny-internet-inbound", "priority": 4000, "direction": "Inbound",
                 "access": "Deny", "protocol": "*", "source_address_prefix": "Internet",
                 "source_port_range": "*", "destination_address_prefix": "*",
                 "destination_port_range": "*",
                 "description": "nothing from the internet, whatever else is added"}


@dataclass
class Network:
    vnet_id: pulumi.Input[str]
    node_subnet: pulumi.Input[str]
    endpoint_subnet: pulumi.Input[str]
    apiserver_subnet: pulumi.Input[str]
    cidrs: list[str]                   # the VNet's address space
    endpoint_cidr: str                 # where the private endpoints' addresses are
    zones: dict[str, azure.privatedns.PrivateZone] = field(default_factory=dict)
    nat: azure.network.NatGateway | None = None


def network(ctx: Ctx, egress: bool, operator_cidrs: list[str]) -> Network:
    net = _existing(ctx, egress) if ctx.azure.node_subnet_id else _create(ctx, egress, operator_cidrs)
    net.zones = _zones(ctx, net)
    if not egress:
        from stacks.azure.dns import security_policy

        security_policy(ctx, net)
    return net


def _rule(name: str, priority: int, direction: str, access: str, source: str, destination: str,
          ports: str = "*", protocol: str = "*", why: str = "") -> dict:
    return {"name": name, "priority": priority, "direction": direction, "access": access,
            "protocol": protocol, "source_address_prefix": source, "source_port_range": "*",
            "destination_address_prefix": destination, "destination_port_range": ports,
            "description": why}


def node_rules(egress: bool) -> list[dict]:
    """Inbound: nothing from the internet. Outbound without egress: nothing to the internet,
    no service tag excepted."""
    rules = [DENY_INTERNET]
    if not egress:
        rules.append(_rule("deny-internet-outbound", 4000, "Outbound", "Deny", "*", "Internet",
                           why="no egress (network.egress: false)"))
    return rules


def apiserver_rules(operator_cidrs: list[str]) -> list[dict]:
    """The API server's subnet: from the internet, only network.operator_cidrs on 443 (when the
    API server has a public endpoint at all)."""
    if not operator_cidrs:
        return [DENY_INTERNET]
    operators = {"name": "allow-operators", "priority": 100, "direction": "Inbound", "access": "Allow",
                 "protocol": "Tcp", "source_address_prefixes": list(operator_cidrs),
                 "source_port_range": "*", "destination_address_prefix": "*",
                 "destination_port_range": "443",
                 "description": "network.operator_cidrs reach the API server"}
    return [operators, DENY_INTERNET]


def endpoint_rules() -> list[dict]:
    """Private endpoints: HTTPS from inside the VNet, nothing else at all."""
    return [_rule("allow-https-from-vnet", 100, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork",
                  "443", "Tcp", "the cluster reaches storage, registry and key vault here"),
            _rule("deny-all-inbound", 4000, "Inbound", "Deny", "*", "*", why="nothing else"),
            _rule("deny-all-outbound", 4000, "Outbound", "Deny", "*", "*",
                  why="private endpoints answer; they never call out")]


def _nsg(ctx: Ctx, logical: str, rules: list[dict]) -> azure.network.NetworkSecurityGroup:
    return azure.network.NetworkSecurityGroup(
        f"{logical}-nsg", network_security_group_name=f"{ctx.name}-{logical}",
        resource_group_name=ctx.group.name, location=ctx.location, tags=ctx.tags,
        security_rules=rules, opts=ctx.opts())


def _create(ctx: Ctx, egress: bool, operator_cidrs: list[str]) -> Network:
    cidr = ctx.azure.vnet_cidr
    nodes_cidr, endpoints_cidr = subnet_cidrs(cidr)
    apiserver_cidr = _apiserver_cidr(cidr)
    nodes_nsg = _nsg(ctx, "nodes", node_rules(egress))
    endpoints_nsg = _nsg(ctx, "endpoints", endpoint_rules())
    apiserver_nsg = _nsg(ctx, "apiserver", apiserver_rules(operator_cidrs))
    nat = _nat(ctx) if egress else None
    vnet_name = f"{ctx.name}-vnet"
    nodes: dict = {"name": "nodes", "address_prefix": nodes_cidr, "default_outbound_access": False,
                   "network_security_group": {"id": nodes_nsg.id},
                   **({"nat_gateway": {"id": nat.id}} if nat is not None else {})}
    vnet = azure.network.VirtualNetwork(
        "vnet", virtual_network_name=vnet_name, resource_group_name=ctx.group.name,
        location=ctx.location, tags=ctx.tags, address_space={"address_prefixes": [cidr]},
        subnets=[
            nodes,
            # Network policies on: the NSG applies to the private endpoints too.
            {"name": "endpoints", "address_prefix": endpoints_cidr, "default_outbound_access": False,
             "network_security_group": {"id": endpoints_nsg.id},
             "private_endpoint_network_policies": "Enabled"},
            {"name": "apiserver", "address_prefix": apiserver_cidr, "default_outbound_access": False,
             "network_security_group": {"id": apiserver_nsg.id},
             "delegations": [{"name": "aks-apiserver",
                              "service_name": "Microsoft.ContainerService/managedClusters"}]},
        ],
        opts=ctx.opts())

    def subnet(name: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(vnet.id, "/subnets/", name)

    return Network(vnet_id=vnet.id, node_subnet=subnet("nodes"), endpoint_subnet=subnet("endpoints"),
                   apiserver_subnet=subnet("apiserver"), cidrs=[cidr], endpoint_cidr=endpoints_cidr,
                   nat=nat)


def _apiserver_cidr(vnet_cidr: str) -> str:
    """A /28 just below the endpoints' /24 (the API server's internal load balancer)."""
    import ipaddress

    vnet = ipaddress.ip_network(vnet_cidr, strict=False)
    return str(list(vnet.subnets(new_prefix=28))[-17])


def _nat(ctx: Ctx) -> azure.network.NatGateway:
    """network.egress only: one NAT gateway with one static public address (nodes keep none)."""
    ip = azure.network.PublicIPAddress(
        "nat-ip", public_ip_address_name=f"{ctx.name}-nat", resource_group_name=ctx.group.name,
        location=ctx.location, tags=ctx.tags, sku={"name": "Standard", "tier": "Regional"},
        public_ip_allocation_method="Static", public_ip_address_version="IPv4", opts=ctx.opts())
    return azure.network.NatGateway(
        "nat", nat_gateway_name=f"{ctx.name}-nat", resource_group_name=ctx.group.name,
        location=ctx.location, tags=ctx.tags, sku={"name": "Standard"},
        public_ip_addresses=[{"id": ip.id}], idle_timeout_in_minutes=4, opts=ctx.opts())


def _existing(ctx: Ctx, egress: bool) -> Network:
    """The subnets as given; the VNet's address space and the endpoints' range are read. The
    node subnet must not reach the internet while egress is off: no NAT gateway, and a default
    route only to an appliance of yours (your firewall), with outbound_type userDefinedRouting."""
    opts = ctx.azure
    vnet_id = opts.existing_vnet or ""
    parts = vnet_id.split("/")
    group, vnet_name = parts[4], parts[-1]
    if egress:
        raise KitError("network.egress: with an existing VNet the kit adds no NAT gateway",
                       hint="route the node subnet through your own egress and set "
                            "azure.outbound_type: userDefinedRouting with network.egress: false")
    vnet = azure.network.get_virtual_network(resource_group_name=group, virtual_network_name=vnet_name,
                                             opts=ctx.invoke())
    servers = list((vnet.dhcp_options.dns_servers or []) if vnet.dhcp_options else [])
    if servers:
        raise KitError(f"azure.node_subnet_id: VNet {vnet_name} sends DNS to {', '.join(servers)}: the "
                       "kit's DNS security policy filters Azure's own resolver only, so those servers "
                       "would answer public names", hint="use Azure-provided DNS on the VNet (az network "
                       f"vnet update -g {group} -n {vnet_name} --dns-servers '') and resolve your own "
                       "zones through Azure Private DNS or a DNS Private Resolver")

    def read(subnet_id: str | None):
        return azure.network.get_subnet(resource_group_name=group, virtual_network_name=vnet_name,
                                        subnet_name=(subnet_id or "").rsplit("/", 1)[-1],
                                        opts=ctx.invoke())

    nodes = read(opts.node_subnet_id)
    if nodes.nat_gateway is not None:
        raise KitError(f"azure.node_subnet_id: {nodes.name} has a NAT gateway but network.egress "
                       "is false", hint="use a subnet without one, or set network.egress: true "
                                        "with a VNet the kit creates")
    if nodes.route_table is not None:
        _check_routes(ctx, nodes.route_table.id, opts.outbound_type)
    endpoints = read(opts.endpoint_subnet_id)
    apiserver = read(opts.apiserver_subnet_id)
    for key, sub in (("node_subnet_id", nodes), ("endpoint_subnet_id", endpoints),
                     ("apiserver_subnet_id", apiserver)):
        if sub.network_security_group is None:
            raise KitError(f"azure.{key}: {sub.name} has no network security group: nothing of the "
                           "kit's filters its traffic",
                           hint=f"az network vnet subnet update -g {group} --vnet-name {vnet_name} "
                                f"-n {sub.name} --network-security-group <an NSG denying Internet>")
    # Azure's default outbound access gives a VM without a public address an implicit one.
    if nodes.default_outbound_access is not False:
        raise KitError(f"azure.node_subnet_id: {nodes.name} has default outbound access: its VMs "
                       "reach the internet through an implicit public address",
                       hint=f"az network vnet subnet update -g {group} --vnet-name {vnet_name} "
                            f"-n {nodes.name} --default-outbound false")
    prefix = endpoints.address_prefix or (endpoints.address_prefixes or [""])[0]
    return Network(vnet_id=vnet_id, node_subnet=opts.node_subnet_id or "",
                   endpoint_subnet=opts.endpoint_subnet_id or "",
                   apiserver_subnet=opts.apiserver_subnet_id or "",
                   cidrs=list(vnet.address_space.address_prefixes), endpoint_cidr=prefix)


def public_prefix(prefix: str | None) -> bool:
    """Whether a route's address prefix covers any public address (a service tag does)."""
    import ipaddress

    try:
        net = ipaddress.ip_network(prefix or "", strict=False)
    except ValueError:
        return prefix != "VirtualNetwork"
    if net.version == 6:
        return not (net.is_private or net.is_link_local)
    private = [ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                 "100.64.0.0/10", "168.63.129.16/32",
                                                 "169.254.0.0/16")]
    return not any(net.subnet_of(p) for p in private)


def _check_routes(ctx: Ctx, table_id: str, outbound_type: str) -> None:
    """Any route to a public range (0.0.0.0/0, a split default such as 0.0.0.0/1, a public
    block, ::/0, a service tag): refused when its next hop is the internet; otherwise (your
    firewall, a VPN gateway) only with outbound_type userDefinedRouting."""
    parts = table_id.split("/")
    table = azure.network.get_route_table(resource_group_name=parts[4], route_table_name=parts[-1],
                                          opts=ctx.invoke())
    for route in table.routes or []:
        if not public_prefix(route.address_prefix):
            continue
        if route.next_hop_type == "Internet":
            raise KitError(f"azure.node_subnet_id: its route table sends {route.address_prefix} to "
                           "the internet but network.egress is false",
                           hint="route it to your firewall, or remove it")
        if route.next_hop_type != "None" and outbound_type != "userDefinedRouting":
            raise KitError(f"azure.outbound_type: {outbound_type}, but the node subnet's route "
                           f"table sends {route.address_prefix} to {route.next_hop_type}",
                           hint="set azure.outbound_type: userDefinedRouting")


def _zones(ctx: Ctx, net: Network) -> dict[str, azure.privatedns.PrivateZone]:
    zones = {}
    for group, zone_name in ZONES.items():
        zone = azure.privatedns.PrivateZone(
            f"zone-{group}", private_zone_name=zone_name, resource_group_name=ctx.group.name,
            location="global", tags=ctx.tags, opts=ctx.opts())
        azure.privatedns.VirtualNetworkLink(
            f"zone-{group}-link", virtual_network_link_name=f"{ctx.name}-vnet",
            private_zone_name=zone.name, resource_group_name=ctx.group.name, location="global",
            virtual_network={"id": net.vnet_id}, registration_enabled=False, tags=ctx.tags,
            opts=ctx.opts(parent=zone))
        zones[group] = zone
    return zones


def private_endpoint(ctx: Ctx, logical: str, net: Network, target_id: pulumi.Input[str],
                     group: str, zone: str, *, manual: bool = False) -> azure.network.PrivateDnsZoneGroup:
    """A private endpoint for one service group of a resource, its address registered in the
    zone's private DNS so the service's own name resolves to it inside the VNet. Returns the
    DNS registration: what depends on reaching the service waits for it. `manual`: a request
    the resource's owner approves (the operator may not approve it: an automatic connection
    would fail to be created)."""
    connection = [{"name": logical, "private_link_service_id": target_id, "group_ids": [group],
                   **({"request_message": f"lima-kit {ctx.name}: read access from its VNet"}
                      if manual else {})}]
    kind = "manual_private_link_service_connections" if manual else "private_link_service_connections"
    pe = azure.network.PrivateEndpoint(
        f"endpoint-{logical}", private_endpoint_name=f"{ctx.name}-{logical}",
        resource_group_name=ctx.group.name, location=ctx.location, tags=ctx.tags,
        subnet={"id": net.endpoint_subnet}, **{kind: connection},
        opts=ctx.opts())
    return azure.network.PrivateDnsZoneGroup(
        f"endpoint-{logical}-dns", private_dns_zone_group_name="default",
        private_endpoint_name=pe.name, resource_group_name=ctx.group.name,
        private_dns_zone_configs=[{"name": zone, "private_dns_zone_id": net.zones[zone].id}],
        opts=ctx.opts(parent=pe))
