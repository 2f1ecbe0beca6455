"""The network invariants on the mock plan: no internet path unless network.egress, Google APIs
on the restricted VIP only, nothing admitted from outside, flow logs; an existing network."""

from __future__ import annotations

import pytest

from kit.errors import KitError
from stacks.gcp.mocks import GcpMocks
from stacks.gcp.names import RESTRICTED_VIP
from tests.stacks.gcp.conftest import EXISTING, created, inputs, make_cfg, plan_of

NETWORK = "gcp:compute/network:Network"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
ROUTE = "gcp:compute/route:Route"
FIREWALL = "gcp:compute/firewall:Firewall"


def test_custom_mode_network_without_its_default_internet_route(default_plan):
    net = inputs(default_plan, NETWORK)
    assert net["autoCreateSubnetworks"] is False and net["deleteDefaultRoutesOnCreate"] is True


def test_the_only_route_out_is_the_restricted_vip(default_plan):
    routes = [r["inputs"] for r in default_plan.of_type(ROUTE)]
    assert [(r["destRange"], r["nextHopGateway"]) for r in routes] == [
        (RESTRICTED_VIP, "default-internet-gateway")]
    assert not default_plan.of_type("gcp:compute/router:Router")
    assert not default_plan.of_type("gcp:compute/routerNat:RouterNat")


def test_subnetwork_has_private_google_access_flow_logs_and_secondary_ranges(default_plan):
    sub = inputs(default_plan, SUBNET)
    assert sub["privateIpGoogleAccess"] is True
    assert sub["logConfig"] == {"aggregationInterval": "INTERVAL_5_SEC", "flowSampling": 1.0,
                                "metadata": "INCLUDE_ALL_METADATA"}
    assert [r["rangeName"] for r in sub["secondaryIpRanges"]] == ["pods", "services"]


def test_google_domains_resolve_to_the_restricted_vip_privately(default_plan):
    zones = {z["inputs"]["dnsName"]: z["inputs"] for z in default_plan.of_type("gcp:dns/managedZone:ManagedZone")}
    assert set(zones) == {"googleapis.com.", "pkg.dev.", "gcr.io."}
    network_id = "projects/acme-ml-prod/global/networks/acme-notes"
    for zone in zones.values():
        assert zone["visibility"] == "private"
        assert zone["privateVisibilityConfig"] == {"networks": [{"networkUrl": network_id}]}
    records = [r["inputs"] for r in default_plan.of_type("gcp:dns/recordSet:RecordSet")]
    a = {r["name"]: r["rrdatas"] for r in records if r["type"] == "A"}
    assert a == dict.fromkeys(("restricted.googleapis.com.", "pkg.dev.", "gcr.io."),
                              ["199.36.153.4", "199.36.153.5", "199.36.153.6", "199.36.153.7"])
    cnames = {r["name"]: r["rrdatas"] for r in records if r["type"] == "CNAME"}
    assert cnames == {"*.googleapis.com.": ["restricted.googleapis.com."],
                      "*.pkg.dev.": ["pkg.dev."], "*.gcr.io.": ["gcr.io."]}


@pytest.mark.parametrize("which", ["default_plan", "egress_plan", "existing_plan"])
def test_no_firewall_rule_admits_anything_from_the_internet(request, which):
    plan = request.getfixturevalue(which)
    rules = [r["inputs"] for r in plan.of_type(FIREWALL)]
    assert rules
    for rule in rules:
        if rule["direction"] == "INGRESS":
            assert "allows" not in rule, rule["name"]
    deny = [r for r in rules if r["direction"] == "INGRESS" and "0.0.0.0/0" in r["sourceRanges"]]
    assert [d["denies"] for d in deny] == [[{"protocol": "all"}]]


def test_without_egress_nodes_reach_only_the_cluster_and_the_vip(default_plan):
    rules = {r["inputs"]["name"]: r["inputs"] for r in default_plan.of_type(FIREWALL)}
    deny = rules["acme-notes-deny-egress"]
    assert deny["destinationRanges"] == ["0.0.0.0/0"] and deny["denies"] == [{"protocol": "all"}]
    allows = [r for r in rules.values() if r["direction"] == "EGRESS" and "allows" in r]
    assert sorted(c for r in allows for c in r["destinationRanges"]) == sorted(
        ["10.42.0.0/20", "10.64.0.0/14", "10.68.0.0/20", "172.16.0.32/28", RESTRICTED_VIP])
    for r in allows:
        assert r["priority"] < deny["priority"]
    for r in rules.values():   # the kit's rules bind its own nodes, also on a shared network
        assert r["targetTags"] == ["acme-notes-node"]
        assert "logConfig" in r or "allows" in r


def test_egress_adds_the_default_route_and_nat_and_drops_the_egress_denial(egress_plan):
    routes = sorted(r["inputs"]["destRange"] for r in egress_plan.of_type(ROUTE))
    assert routes == ["0.0.0.0/0", RESTRICTED_VIP]
    nat = inputs(egress_plan, "gcp:compute/routerNat:RouterNat")
    assert nat["natIpAllocateOption"] == "AUTO_ONLY"
    assert not [r for r in egress_plan.of_type(FIREWALL) if r["inputs"]["direction"] == "EGRESS"]


def test_existing_network_is_used_not_created(existing_plan):
    assert not created(existing_plan, NETWORK) and not created(existing_plan, SUBNET)
    cluster = inputs(existing_plan, "gcp:container/cluster:Cluster")
    assert cluster["network"].endswith("/networks/shared-vpc")
    assert cluster["subnetwork"].endswith("/subnetworks/ml-nodes")
    assert existing_plan.outputs["private_cidrs"] == ["10.10.0.0/20"]


def _subnet_answer(**changes):
    base = {"name": "ml-nodes", "region": "us-central1", "ipCidrRange": "10.10.0.0/20",
            "network": "https://www.googleapis.com/compute/v1/projects/acme-ml-prod/global/networks/shared-vpc",
            "privateIpGoogleAccess": True, "selfLink": "ml-nodes",
            "secondaryIpRanges": [{"rangeName": "pods", "ipCidrRange": "10.20.0.0/14"},
                                  {"rangeName": "services", "ipCidrRange": "10.24.0.0/20"}],
            "id": "ml-nodes"}
    return {"gcp:compute/getSubnetwork:getSubnetwork": {**base, **changes}}


@pytest.mark.parametrize(("changes", "message"), [
    ({"privateIpGoogleAccess": False}, "Private Google Access off"),
    ({"secondaryIpRanges": [{"rangeName": "pods", "ipCidrRange": "10.20.0.0/14"}]},
     "gcp.services_range: ml-nodes has no secondary range 'services'"),
    ({"network": "https://www.googleapis.com/compute/v1/projects/acme-ml-prod/global/networks/other"},
     "is in network other, not shared-vpc"),
])
def test_existing_network_is_checked(changes, message):
    cfg = make_cfg(gcp=EXISTING)
    mocks = GcpMocks(project="acme-ml-prod", calls=_subnet_answer(**changes))
    with pytest.raises(KitError, match=message):
        plan_of(cfg, mocks=mocks)


POLICY = "gcp:dns/responsePolicy:ResponsePolicy"
RULE = "gcp:dns/responsePolicyRule:ResponsePolicyRule"


@pytest.mark.parametrize("which", ["default_plan", "existing_plan"])
def test_no_public_name_resolves_in_the_network(request, which):
    """A response policy on the network: `*.` answered locally (the query never leaves), the
    private zones and Compute Engine's internal names bypass it. Longest suffix wins, localData
    overrides the public internet, bypassResponsePolicy skips a less specific rule
    (https://cloud.google.com/dns/docs/reference/v1/responsePolicyRules, read 2026-12-07)."""
    plan = request.getfixturevalue(which)
    policy = inputs(plan, POLICY)
    network = inputs(plan, "gcp:container/cluster:Cluster")["network"]
    assert policy["networks"] == [{"networkUrl": network}]
    rules = {r["inputs"]["dnsName"]: r["inputs"] for r in plan.of_type(RULE)}
    for r in rules.values():
        assert r["responsePolicy"] == policy["responsePolicyName"]
    catch_all = rules.pop("*.")
    assert catch_all["localData"] == {"localDatas": [{"name": "*.", "type": "A", "ttl": 300,
                                                      "rrdatas": ["0.0.0.0"]}]}
    assert "behavior" not in catch_all
    zones = {z["inputs"]["dnsName"] for z in plan.of_type("gcp:dns/managedZone:ManagedZone")}
    assert set(rules) == {n for zone in [*zones, "internal."] for n in (zone, f"*.{zone}")}
    assert {r["behavior"] for r in rules.values()} == {"bypassResponsePolicy"}


def test_with_egress_no_response_policy(egress_plan):
    assert not egress_plan.of_type(POLICY) and not egress_plan.of_type(RULE)
