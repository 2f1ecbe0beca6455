"""DNS that answers no public name: a DNS security policy (Microsoft.Network/dnsResolverPolicies)
linked to the kit's VNet.

Every query from the VNet (nodes, and pods through CoreDNS, which forwards what is not a
cluster name to Azure's resolver) meets the policy. One rule allows the names the deployment
resolves, a later one blocks every other name (the root, "."), so no query for a public name
leaves Azure's resolver: a name is a message, and `<data>.attacker.example` would carry data to
the attacker's name server.

Allowed, each with every name under it: the services behind the kit's private endpoints (a
public name such as <account>.blob.core.windows.net is a CNAME to its privatelink zone, which
the VNet's private zone answers), the AKS API server's names, and Azure's internal names of the
nodes. Each of those zones is served by Microsoft's own name servers, so a query there reaches
no one else's.

Azure DNS security policy (https://learn.microsoft.com/en-us/azure/dns/dns-security-policy,
read 2026-12-07): it "applies to both public and private DNS traffic within a VNet"; traffic
rules allow, alert or block by priority (lower first) and domain lists, and respect the domain
hierarchy; a VNet is linked to one policy at a time, in the same region.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi_azure_native as azure

if TYPE_CHECKING:
    from stacks.azure.common import Ctx
    from stacks.azure.network import Network

EVERY_NAME = "."
# Storage (the kit's account and the data's), the registry, the key vault (public names and
# their privatelink zones, network.ZONES), the AKS API server, and the nodes' own names.
ALLOWED = ("blob.core.windows.net.", "azurecr.io.", "vault.azure.net.", "vaultcore.azure.net.",
           "azmk8s.io.", "internal.cloudapp.net.")
ALLOW_PRIORITY, BLOCK_PRIORITY = 100, 1000


def security_policy(ctx: "Ctx", net: "Network") -> azure.dnsresolver.DnsResolverPolicy:
    group = ctx.group.name
    policy = azure.dnsresolver.DnsResolverPolicy(
        "dns-policy", dns_resolver_policy_name=f"{ctx.name}-names", resource_group_name=group,
        location=ctx.location, tags=ctx.tags, opts=ctx.opts())
    allowed = azure.dnsresolver.DnsResolverDomainList(
        "dns-allowed-names", dns_resolver_domain_list_name=f"{ctx.name}-allowed",
        resource_group_name=group, location=ctx.location, tags=ctx.tags, domains=list(ALLOWED),
        opts=ctx.opts())
    every = azure.dnsresolver.DnsResolverDomainList(
        "dns-every-name", dns_resolver_domain_list_name=f"{ctx.name}-every-name",
        resource_group_name=group, location=ctx.location, tags=ctx.tags, domains=[EVERY_NAME],
        opts=ctx.opts())
    azure.dnsresolver.DnsSecurityRule(
        "dns-allow-kit-names", dns_security_rule_name="allow-kit-names",
        dns_resolver_policy_name=policy.name, resource_group_name=group, location=ctx.location,
        priority=ALLOW_PRIORITY, action={"action_type": "Allow"},
        dns_resolver_domain_lists=[{"id": allowed.id}], dns_security_rule_state="Enabled",
        tags=ctx.tags, opts=ctx.opts(parent=policy))
    azure.dnsresolver.DnsSecurityRule(
        "dns-block-other-names", dns_security_rule_name="block-other-names",
        dns_resolver_policy_name=policy.name, resource_group_name=group, location=ctx.location,
        priority=BLOCK_PRIORITY, action={"action_type": "Block", "block_response_code": "SERVFAIL"},
        dns_resolver_domain_lists=[{"id": every.id}], dns_security_rule_state="Enabled",
        tags=ctx.tags, opts=ctx.opts(parent=policy))
    azure.dnsresolver.DnsResolverPolicyVirtualNetworkLink(
        "dns-policy-link", dns_resolver_policy_virtual_network_link_name=f"{ctx.name}-vnet",
        dns_resolver_policy_name=policy.name, resource_group_name=group, location=ctx.location,
        virtual_network={"id": net.vnet_id}, tags=ctx.tags, opts=ctx.opts(parent=policy))
    return policy
