"""`kit doctor` on an existing GCP network (gcp.network): each way to the internet the kit's own
firewall rules would not stop is refused with its fix, against recorded shapes of the Compute
API's answers (routes.list items, networks.getEffectiveFirewalls).

Grounding (read 2026-12-07):
- routes with network tags apply only to instances with one of those tags; next hops are
  nextHopGateway / nextHopInstance / nextHopIp / nextHopIlb / nextHopVpnTunnel / nextHopPeering:
  https://cloud.google.com/vpc/docs/routes
- hierarchical and network firewall policies are evaluated before VPC firewall rules; an
  `allow` there ends evaluation (`goto_next` passes on); among VPC rules the lowest priority
  number wins and at equal priority a deny wins:
  https://cloud.google.com/firewall/docs/firewall-policies-rule-details and
  https://cloud.google.com/firewall/docs/firewalls
"""

from __future__ import annotations

import pytest

from stacks.gcp import contained

TAG = "acme-notes-node"
LOCAL = {"name": "default-route-local", "destRange": "10.10.0.0/20", "priority": 0,
         "nextHopNetwork": "https://www.googleapis.com/compute/v1/projects/acme-ml-prod/global/networks/shared-vpc"}
VIP = {"name": "restricted-apis", "destRange": "199.36.153.4/30", "priority": 900,
       "nextHopGateway": "https://www.googleapis.com/compute/v1/projects/acme-ml-prod/global/gateways/default-internet-gateway"}
KIT_RULES = [
    {"name": "acme-notes-allow-egress-google", "direction": "EGRESS", "priority": 100,
     "destinationRanges": ["199.36.153.4/30"], "allowed": [{"IPProtocol": "tcp", "ports": ["443"]}],
     "targetTags": [TAG]},
    {"name": "acme-notes-deny-egress", "direction": "EGRESS", "priority": 200,
     "destinationRanges": ["0.0.0.0/0"], "denied": [{"IPProtocol": "all"}], "targetTags": [TAG]},
]


def _check(routes=(), firewalls=(), policies=()):
    effective = {"firewalls": [*KIT_RULES, *firewalls], "firewallPolicys": list(policies)}
    return contained.network_check("shared-vpc", TAG, [LOCAL, VIP, *routes], effective)


def test_a_private_network_passes():
    assert _check().ok


GATEWAY = "https://www.googleapis.com/compute/v1/projects/acme-ml-prod/global/gateways/default-internet-gateway"


@pytest.mark.parametrize(("route", "said"), [
    ({"name": "default-route-1", "destRange": "0.0.0.0/0", "nextHopGateway": GATEWAY},
     "sends 0.0.0.0/0 to nextHopGateway default-internet-gateway"),
    ({"name": "split-low", "destRange": "0.0.0.0/1", "nextHopIp": "10.10.0.9"},
     "sends 0.0.0.0/1 to nextHopIp 10.10.0.9"),
    ({"name": "split-high", "destRange": "128.0.0.0/1", "nextHopInstance":
      "https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-a/instances/nat-vm"},
     "sends 128.0.0.0/1 to nextHopInstance nat-vm"),
    ({"name": "to-onprem", "destRange": "8.8.8.0/24", "nextHopVpnTunnel": "projects/p/regions/r/vpnTunnels/t1"},
     "sends 8.8.8.0/24 to nextHopVpnTunnel t1"),
    ({"name": "peered-default", "destRange": "0.0.0.0/0", "nextHopPeering": "hub-peering"},
     "sends 0.0.0.0/0 to nextHopPeering hub-peering"),
    ({"name": "tagged-for-us", "destRange": "0.0.0.0/0", "nextHopIlb": "10.10.0.50", "tags": [TAG]},
     "sends 0.0.0.0/0 to nextHopIlb 10.10.0.50"),
    ({"name": "v6-default", "destRange": "::/0", "nextHopGateway": GATEWAY}, "sends ::/0"),
])
def test_every_route_shape_to_the_internet_is_refused(route, said):
    check = _check(routes=[route])
    assert not check.ok and said in check.detail
    assert f"gcloud compute routes delete {route['name']}" in check.fix


def test_a_route_tagged_for_other_instances_does_not_apply():
    other = {"name": "bastion-out", "destRange": "0.0.0.0/0", "nextHopGateway": GATEWAY, "tags": ["bastion"]}
    assert _check(routes=[other]).ok


@pytest.mark.parametrize(("rule", "refused"), [
    ({"name": "allow-all-out", "direction": "EGRESS", "priority": 50, "allowed": [{"IPProtocol": "all"}]}, True),
    ({"name": "allow-https", "direction": "EGRESS", "priority": 199, "targetTags": [TAG],
      "destinationRanges": ["0.0.0.0/0"], "allowed": [{"IPProtocol": "tcp", "ports": ["443"]}]}, True),
    ({"name": "equal-priority", "direction": "EGRESS", "priority": 200,
      "destinationRanges": ["0.0.0.0/0"], "allowed": [{"IPProtocol": "all"}]}, False),
    ({"name": "internal-only", "direction": "EGRESS", "priority": 10,
      "destinationRanges": ["10.0.0.0/8"], "allowed": [{"IPProtocol": "all"}]}, False),
    ({"name": "other-instances", "direction": "EGRESS", "priority": 10, "targetTags": ["bastion"],
      "destinationRanges": ["0.0.0.0/0"], "allowed": [{"IPProtocol": "all"}]}, False),
])
def test_an_allow_rule_outranking_the_kits_denial_is_refused(rule, refused):
    check = _check(firewalls=[rule])
    assert check.ok is not refused
    if refused:
        assert f"firewall rule {rule['name']}" in check.detail and "priority of 200 or more" in check.fix


@pytest.mark.parametrize(("action", "ranges", "refused"), [
    ("allow", ["0.0.0.0/0"], True), ("allow", None, True), ("allow", ["10.0.0.0/8"], False),
    ("goto_next", ["0.0.0.0/0"], False), ("deny", ["0.0.0.0/0"], False),
])
def test_a_hierarchical_policy_allowing_egress_is_refused(action, ranges, refused):
    match = {"layer4Configs": [{"ipProtocol": "all"}], **({"destIpRanges": ranges} if ranges else {})}
    policy = {"name": "123", "shortName": "org-egress", "type": "HIERARCHY",
              "rules": [{"priority": 1000, "direction": "EGRESS", "action": action, "match": match}]}
    check = _check(policies=[policy])
    assert check.ok is not refused
    if refused:
        assert "firewall policy org-egress (hierarchy) rule 1000 allows egress" in check.detail


def test_a_dns_server_policy_with_alternative_name_servers_is_refused():
    """Alternative name servers in a server policy: "when specified, all DNS queries are
    forwarded to a name server that you choose"
    (https://docs.cloud.google.com/config-connector/docs/reference/resource-docs/dns/dnspolicy,
    read 2026-12-07), so the kit's response policy would not answer them."""
    net = "https://www.googleapis.com/compute/v1/projects/acme-ml-prod/global/networks/shared-vpc"
    policy = {"name": "onprem-dns", "networks": [{"networkUrl": net}],
              "alternativeNameServerConfig": {"targetNameServers": [{"ipv4Address": "10.9.0.53"}]}}
    check = contained.network_check("shared-vpc", TAG, [LOCAL, VIP], {"firewalls": KIT_RULES}, [policy])
    assert not check.ok and "DNS server policy onprem-dns sends every query to 10.9.0.53" in check.detail
    logging_only = {"name": "logs", "networks": [{"networkUrl": net}], "enableLogging": True}
    other_net = {**policy, "networks": [{"networkUrl": net.replace("shared-vpc", "other")}]}
    assert contained.network_check("shared-vpc", TAG, [LOCAL, VIP], {"firewalls": KIT_RULES},
                                   [logging_only, other_net]).ok
