"""DNS that answers no public name: a Cloud DNS response policy on the kit's network.

Every query from the network (nodes, and pods through kube-dns, which forwards what is not a
cluster name to the network's resolver) meets the policy first. One rule matches every name
(`*.`) and answers it locally with 0.0.0.0, so no query for a public name leaves Google's
resolver (a name is a message: `<data>.attacker.example` would carry data to the attacker's
name server). Bypass rules exempt exactly the names the deployment resolves: the private zones
that put Google's APIs on the restricted VIP (stacks/gcp/network.py) and Compute Engine's
internal names (metadata.google.internal, the nodes' own names). The longest matching rule
wins, so a bypass for `*.googleapis.com.` beats `*.`.

Cloud DNS (read 2026-12-07): "Each DNS query subject to a Response Policy matches at most one
ResponsePolicyRule, as identified by the dnsName field with the longest matching suffix";
localData "override[s] any other DNS behavior for the matched name; in particular ... private
zones, the public internet, and GCP internal DNS"; bypassResponsePolicy "skip[s] a
less-specific Response Policy Rule and let[s] the query logic continue"
(https://cloud.google.com/dns/docs/reference/v1/responsePolicyRules); one response policy per
network (https://cloud.google.com/dns/docs/zones/manage-response-policies).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi_gcp as gcp

if TYPE_CHECKING:
    from stacks.gcp.common import Ctx
    from stacks.gcp.network import Network

CATCH_ALL = "*."
SINK = "0.0.0.0"
# Zones the network resolves privately (network.API_ZONES) and Compute Engine's internal DNS.
RESOLVED = ("googleapis.com.", "pkg.dev.", "gcr.io.", "internal.")


def allowed_names() -> list[str]:
    """Each resolved zone's apex and every name under it."""
    return [n for zone in RESOLVED for n in (zone, f"*.{zone}")]


def response_policy(ctx: "Ctx", net: "Network") -> gcp.dns.ResponsePolicy:
    policy = gcp.dns.ResponsePolicy(
        "dns-policy", response_policy_name=f"{ctx.name}-names",
        description=f"lima-kit {ctx.name}: no public name resolves in the network",
        networks=[{"network_url": net.network}], opts=ctx.opts())
    gcp.dns.ResponsePolicyRule(
        "dns-deny-other-names", response_policy=policy.response_policy_name, rule_name="other-names",
        dns_name=CATCH_ALL,
        local_data={"local_datas": [{"name": CATCH_ALL, "type": "A", "ttl": 300, "rrdatas": [SINK]}]},
        opts=ctx.opts(parent=policy))
    for name in allowed_names():
        logical = name.replace("*.", "any-").rstrip(".").replace(".", "-")
        gcp.dns.ResponsePolicyRule(
            f"dns-allow-{logical}", response_policy=policy.response_policy_name,
            rule_name=f"allow-{logical}", dns_name=name, behavior="bypassResponsePolicy",
            opts=ctx.opts(parent=policy))
    return policy
