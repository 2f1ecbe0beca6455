"""An existing VPC, checked before the kit uses it with network.egress false: no route of the
given subnets may reach the internet, and the VPC must resolve names through Route 53 Resolver
(where the DNS firewall of stacks/aws/dns.py sits).

A route leaves the network when its target is an internet, NAT or egress-only internet
gateway, whatever its destination; or when it sends addresses outside the private ranges
anywhere but the VPC itself: `0.0.0.0/0`, but just as well `0.0.0.0/1` + `128.0.0.0/1` (the
split default a VPN or firewall appliance installs), or any public range, to a transit
gateway, peering connection, network interface, instance or Gateway Load Balancer endpoint,
each of which can forward it on to the internet (VPC user guide, "Configure route tables":
route targets; "Gateway Load Balancer endpoints"; read 2026-12-07). Routes of private ranges
to those targets (an on-premises network behind a transit gateway) stay, and so do the S3 /
DynamoDB gateway endpoints' routes (an AWS-managed prefix list to a vpce-).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kit.errors import KitError

# Where a route can send traffic, by the route's target attribute.
ROUTE_TARGETS = ("gateway_id", "nat_gateway_id", "transit_gateway_id", "vpc_peering_connection_id",
                 "network_interface_id", "instance_id", "vpc_endpoint_id", "egress_only_gateway_id",
                 "carrier_gateway_id", "local_gateway_id", "core_network_arn")
# Targets that are the internet whatever the destination.
INTERNET_TARGETS = ("igw-", "nat-", "eigw-")
# Address space that is not the internet: RFC 1918, shared address space (RFC 6598, often a
# VPC's secondary range), link-local, and IPv6 unique-local.
PRIVATE = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
    "fc00::/7", "fe80::/10"))
AMAZON_DNS = "AmazonProvidedDNS"


def _private(destination: str) -> bool:
    try:
        net = ipaddress.ip_network(destination, strict=False)
    except ValueError:
        return False
    return any(net.version == p.version and net.subnet_of(p) for p in PRIVATE)


def route_out(route: Any) -> str:
    """"<destination> to <target>" when the route is a way out of the network; "" otherwise."""
    target = next((str(getattr(route, name, "") or "") for name in ROUTE_TARGETS
                   if getattr(route, name, None)), "")
    if not target or target == "local":
        return ""
    prefix_list = getattr(route, "destination_prefix_list_id", None) or ""
    destination = route.cidr_block or route.ipv6_cidr_block or prefix_list or "?"
    if target.startswith(INTERNET_TARGETS):
        return f"{destination} to {target}"
    if prefix_list and not (route.cidr_block or route.ipv6_cidr_block):
        # A gateway endpoint's route (S3, DynamoDB: AWS's prefix list to its vpce-) stays;
        # any other prefix list's addresses are unknown here, so it is taken as a way out.
        return "" if target.startswith("vpce-") else f"{destination} to {target}"
    return "" if _private(destination) else f"{destination} to {target}"


def _fix(leaves: str) -> str:
    target = leaves.rsplit(" to ", 1)[-1]
    if target.startswith(INTERNET_TARGETS):
        return ("use private subnets whose route tables have no internet, NAT or egress-only "
                "gateway route, or set network.egress: true in kit.yaml")
    return (f"route only private ranges through {target} (or delete that route), use other "
            "subnets, or set network.egress: true in kit.yaml")


def check_routes(subnet: str, table_id: str, routes: list[Any]) -> None:
    """A one-line KitError for the first route of `table_id` (of `subnet`) that leaves."""
    for route in routes or []:
        leaves = route_out(route)
        if leaves:
            raise KitError(f"aws.subnet_ids: {subnet}: route table {table_id} routes {leaves}, "
                           "a way out of the network, but network.egress is false",
                           hint=_fix(leaves))


def check_resolver(vpc_id: str, dhcp_options_id: str, servers: list[str]) -> None:
    """DNS Firewall filters the queries that go through Route 53 Resolver (the VPC's
    AmazonProvidedDNS): "the firewall must see the VPC's queries" (aws/agent-toolkit-for-aws,
    route53 skill, "Blocking Malicious Domains with Route 53 DNS Firewall"; AWS CDK
    aws-route53resolver README, "DNS Firewall ... requests route through Resolver"; read
    2026-12-07). DHCP options naming other name servers send nodes' and pods' queries past it."""
    others = [s for s in servers or [] if s != AMAZON_DNS]
    if others:
        raise KitError(f"aws.vpc_id: {vpc_id} hands out DHCP options {dhcp_options_id} with name "
                       f"servers {', '.join(others)}: queries to them bypass the kit's DNS "
                       "firewall, and network.egress is false",
                       hint="associate DHCP options whose domain-name-servers is "
                            "AmazonProvidedDNS, or set network.egress: true in kit.yaml")
