"""Network invariants: private subnets only, no internet/NAT gateway unless egress is opted
in, private endpoints for storage/registry/identity, flow logs; an existing VPC is used as given."""

from __future__ import annotations

import pytest

from kit.errors import KitError
from stacks.aws.mocks import AwsMocks
from stacks.aws.network import INTERFACE_ENDPOINTS
from tests.stacks.conftest import EXISTING_VPC, existing_vpc, inputs, make_cfg, plan_of, policy_doc

GATEWAYS = ("aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway",
            "aws:ec2/eip:Eip", "aws:ec2/route:Route")


def test_default_has_no_internet_or_nat_gateway_and_no_routes(default_plan):
    for typ in GATEWAYS:
        assert default_plan.of_type(typ) == [], typ


def test_every_subnet_is_private(default_plan):
    subnets = default_plan.of_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 3
    assert {s["inputs"]["availabilityZone"] for s in subnets} == {"us-east-1a", "us-east-1b", "us-east-1c"}
    for s in subnets:
        assert s["inputs"]["mapPublicIpOnLaunch"] is False


def test_vpc_dns_and_locked_default_security_group(default_plan):
    vpc = inputs(default_plan, "aws:ec2/vpc:Vpc")
    assert vpc["enableDnsSupport"] is True and vpc["enableDnsHostnames"] is True
    sg = inputs(default_plan, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert sg["ingress"] == [] and sg["egress"] == []


def test_private_endpoints_for_storage_registry_identity(default_plan):
    endpoints = {r["inputs"]["serviceName"]: r["inputs"]
                 for r in default_plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    for service in ("ecr.api", "ecr.dkr", "sts", "ec2", "eks", "eks-auth", "logs", "autoscaling"):
        assert service in INTERFACE_ENDPOINTS
        ep = endpoints[f"com.amazonaws.us-east-1.{service}"]
        assert ep["vpcEndpointType"] == "Interface"
        assert ep["privateDnsEnabled"] is True
        assert len(ep["subnetIds"]) == 3
    s3 = endpoints["com.amazonaws.us-east-1.s3"]
    assert s3["vpcEndpointType"] == "Gateway"
    association = inputs(default_plan, "aws:ec2/routeTableAssociation:RouteTableAssociation", "private-0")
    assert s3["routeTableIds"] == [association["routeTableId"]]


def test_s3_endpoint_only_reaches_the_kit_and_data_buckets(default_plan):
    s3 = [r for r in default_plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if r["name"] == "endpoint-s3"][0]
    resources = {res for st in policy_doc(s3["inputs"]["policy"]) for res in st["Resource"]}
    for res in resources:
        assert ("acme-notes-artifacts-" in res or "acme-notes-models-" in res
                or res.startswith("arn:aws:s3:::acme-clinical-notes")
                or "starport-layer-bucket" in res), res
    data = [st for st in policy_doc(s3["inputs"]["policy"]) if st["Sid"] == "DataRead"][0]
    assert "s3:PutObject" not in data["Action"]


def test_endpoint_security_group_allows_https_from_the_vpc_only(default_plan):
    sg = inputs(default_plan, "aws:ec2/securityGroup:SecurityGroup", "endpoints-sg")
    assert sg["ingress"] == [{"protocol": "tcp", "fromPort": 443, "toPort": 443,
                              "cidrBlocks": ["10.42.0.0/16"], "description": "HTTPS from inside the VPC"}]
    assert sg["egress"] == []


def test_flow_logs_capture_all_traffic_into_an_encrypted_group(default_plan):
    flow = inputs(default_plan, "aws:ec2/flowLog:FlowLog")
    assert flow["trafficType"] == "ALL" and flow["logDestinationType"] == "cloud-watch-logs"
    group = inputs(default_plan, "aws:cloudwatch/logGroup:LogGroup", "flow-logs")
    assert group["kmsKeyId"].startswith("arn:aws:kms:")


def test_egress_opt_in_adds_one_nat_and_keeps_nodes_private():
    plan = plan_of(make_cfg(network={"egress": True}))
    assert len(plan.of_type("aws:ec2/natGateway:NatGateway")) == 1
    assert len(plan.of_type("aws:ec2/internetGateway:InternetGateway")) == 1
    routes = {r["name"]: r["inputs"] for r in plan.of_type("aws:ec2/route:Route")}
    assert routes["private-egress"]["destinationCidrBlock"] == "0.0.0.0/0"
    assert routes["private-egress"]["natGatewayId"].startswith("nat-")
    for s in plan.of_type("aws:ec2/subnet:Subnet"):
        assert s["inputs"]["mapPublicIpOnLaunch"] is False
    private = [s for s in plan.of_type("aws:ec2/subnet:Subnet") if s["name"].startswith("private")]
    nodes = inputs(plan, "aws:eks/nodeGroup:NodeGroup", "gpu")["subnetIds"]
    assert len(private) == 3 and len(nodes) == 3
    public_ids = {s["name"] for s in plan.of_type("aws:ec2/subnet:Subnet")} - {s["name"] for s in private}
    assert public_ids == {"public-0", "public-1", "public-2"}


def test_existing_vpc_creates_no_network_and_uses_the_given_subnets():
    plan = plan_of(existing_vpc())
    for typ in ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", *GATEWAYS):
        assert plan.of_type(typ) == [], typ
    subnets = EXISTING_VPC["subnet_ids"]
    assert inputs(plan, "aws:eks/cluster:Cluster")["vpcConfig"]["subnetIds"] == subnets
    assert inputs(plan, "aws:eks/nodeGroup:NodeGroup", "gpu")["subnetIds"] == subnets
    assert inputs(plan, "aws:ec2/flowLog:FlowLog")["vpcId"] == "vpc-0123456789abcdef0"
    sg = inputs(plan, "aws:ec2/securityGroup:SecurityGroup", "endpoints-sg")
    assert sg["ingress"][0]["cidrBlocks"] == ["10.0.0.0/16"]  # read from the VPC, not assumed


def _routes(*routes: dict) -> AwsMocks:
    return AwsMocks(calls={"aws:ec2/getRouteTable:getRouteTable": {
        "routeTableId": "rtb-1", "id": "rtb-1",
        "routes": [{"cidrBlock": "10.0.0.0/16", "gatewayId": "local"}, *routes]}})


def test_existing_subnet_routing_to_nat_is_refused_without_egress():
    from kit.infra.plan import run_plan

    with pytest.raises(KitError) as err:
        run_plan(existing_vpc(), _routes({"cidrBlock": "0.0.0.0/0", "natGatewayId": "nat-0abc"}))
    assert err.value.one_line() == (
        "aws.subnet_ids: subnet-0aaa1111: route table rtb-1 routes 0.0.0.0/0 to nat-0abc, a way "
        "out of the network, but network.egress is false (hint: use private subnets whose route "
        "tables have no internet, NAT or egress-only gateway route, or set network.egress: true "
        "in kit.yaml)")


# Each shape of a way out (VPC user guide, "Configure route tables", route targets, and
# "Gateway Load Balancer endpoints", read 2026-12-07): any route to an internet, NAT or
# egress-only gateway; public address space (a default, a split default, any public range) to
# a transit gateway, peering connection, network interface, instance or GWLB endpoint, which
# forward it on.
@pytest.mark.parametrize("routes,shown", [
    ([{"cidrBlock": "0.0.0.0/0", "transitGatewayId": "tgw-0abc"}], "0.0.0.0/0 to tgw-0abc"),
    ([{"cidrBlock": "0.0.0.0/1", "transitGatewayId": "tgw-0abc"},
      {"cidrBlock": "128.0.0.0/1", "transitGatewayId": "tgw-0abc"}], "0.0.0.0/1 to tgw-0abc"),
    ([{"cidrBlock": "128.0.0.0/1", "transitGatewayId": "tgw-0abc"}], "128.0.0.0/1 to tgw-0abc"),
    ([{"cidrBlock": "0.0.0.0/0", "vpcPeeringConnectionId": "pcx-0abc"}], "0.0.0.0/0 to pcx-0abc"),
    ([{"cidrBlock": "203.0.113.0/24", "vpcPeeringConnectionId": "pcx-0abc"}],
     "203.0.113.0/24 to pcx-0abc"),
    ([{"cidrBlock": "0.0.0.0/0", "networkInterfaceId": "eni-0abc"}], "0.0.0.0/0 to eni-0abc"),
    ([{"cidrBlock": "0.0.0.0/1", "networkInterfaceId": "eni-0abc"}], "0.0.0.0/1 to eni-0abc"),
    ([{"cidrBlock": "0.0.0.0/0", "instanceId": "i-0abc"}], "0.0.0.0/0 to i-0abc"),
    ([{"cidrBlock": "0.0.0.0/0", "vpcEndpointId": "vpce-0abc"}], "0.0.0.0/0 to vpce-0abc"),
    ([{"cidrBlock": "64.0.0.0/2", "vpcEndpointId": "vpce-0gwlb"}], "64.0.0.0/2 to vpce-0gwlb"),
    ([{"ipv6CidrBlock": "::/0", "egressOnlyGatewayId": "eigw-0abc"}], "::/0 to eigw-0abc"),
    ([{"ipv6CidrBlock": "2000::/3", "egressOnlyGatewayId": "eigw-0abc"}], "2000::/3 to eigw-0abc"),
    ([{"ipv6CidrBlock": "::/1", "transitGatewayId": "tgw-0abc"}], "::/1 to tgw-0abc"),
    ([{"cidrBlock": "198.51.100.0/24", "gatewayId": "igw-0abc"}], "198.51.100.0/24 to igw-0abc"),
    ([{"cidrBlock": "10.8.0.0/16", "gatewayId": "igw-0abc"}], "10.8.0.0/16 to igw-0abc"),
    ([{"destinationPrefixListId": "pl-0custom", "transitGatewayId": "tgw-0abc"}],
     "pl-0custom to tgw-0abc"),
])
def test_an_existing_vpc_with_any_way_out_is_refused_without_egress(routes, shown):
    from kit.infra.plan import run_plan

    with pytest.raises(KitError) as err:
        run_plan(existing_vpc(), _routes(*routes))
    line = err.value.one_line()
    assert f"route table rtb-1 routes {shown}, a way out of the network" in line
    assert "network.egress: true" in line and "\n" not in line


def test_the_same_routes_are_allowed_when_egress_is_opted_in():
    from kit.infra.plan import run_plan

    plan = run_plan(make_cfg(aws=EXISTING_VPC, network={"egress": True}),
                    _routes({"cidrBlock": "0.0.0.0/1", "transitGatewayId": "tgw-0abc"}))
    assert plan.of_type("aws:eks/cluster:Cluster")


def test_routes_inside_the_network_are_fine():
    """Private ranges to a transit gateway or peering (on-premises, other VPCs) and the S3
    gateway endpoint's route (AWS's prefix list to its vpce-) do not reach the internet."""
    from kit.infra.plan import run_plan

    mocks = _routes({"cidrBlock": "10.9.0.0/16", "transitGatewayId": "tgw-0abc"},
                    {"cidrBlock": "172.20.0.0/16", "vpcPeeringConnectionId": "pcx-0abc"},
                    {"cidrBlock": "100.64.0.0/16", "transitGatewayId": "tgw-0abc"},
                    {"destinationPrefixListId": "pl-63a5400a", "vpcEndpointId": "vpce-0s3"})
    assert run_plan(existing_vpc(), mocks).of_type("aws:eks/cluster:Cluster")


def _dhcp(servers: list[str]) -> AwsMocks:
    return AwsMocks(calls={"aws:ec2/getVpcDhcpOptions:getVpcDhcpOptions": {
        "id": "dopt-0custom", "dhcpOptionsId": "dopt-0custom", "domainNameServers": servers}})


def test_custom_dhcp_name_servers_are_refused_they_bypass_the_dns_firewall():
    """DNS Firewall sees only queries to Route 53 Resolver (AmazonProvidedDNS): "the firewall
    must see the VPC's queries" (aws/agent-toolkit-for-aws route53 skill, "Blocking Malicious
    Domains with Route 53 DNS Firewall"; AWS CDK aws-route53resolver README, read 2026-12-07)."""
    from kit.infra.plan import run_plan

    with pytest.raises(KitError) as err:
        run_plan(existing_vpc(), _dhcp(["10.0.0.2", "AmazonProvidedDNS", "192.0.2.53"]))
    assert err.value.one_line().startswith(
        "aws.vpc_id: vpc-0123456789abcdef0 hands out DHCP options dopt-0default with name "
        "servers 10.0.0.2, 192.0.2.53: queries to them bypass the kit's DNS firewall")
    assert run_plan(existing_vpc(), _dhcp(["AmazonProvidedDNS"])).of_type("aws:eks/cluster:Cluster")


def test_a_vpc_without_a_dhcp_option_set_is_not_looked_up():
    """DhcpOptionsId "default" means "no DHCP options" (EC2 API reference, AssociateDhcpOptions,
    read 2026-12-07): no other name server is handed out, and no option set exists to read."""
    from kit.infra.plan import run_plan

    mocks = AwsMocks(calls={
        "aws:ec2/getVpc:getVpc": {"id": "vpc-0123456789abcdef0", "cidrBlock": "10.0.0.0/16",
                                  "dhcpOptionsId": "default"},
        "aws:ec2/getVpcDhcpOptions:getVpcDhcpOptions": {"id": "x", "domainNameServers": ["192.0.2.53"]}})
    assert run_plan(existing_vpc(), mocks).of_type("aws:eks/cluster:Cluster")


def test_existing_vpc_needs_two_subnets():
    with pytest.raises(KitError, match=r"aws\.subnet_ids: an existing VPC needs at least 2"):
        make_cfg(aws={"vpc_id": "vpc-0123456789abcdef0", "subnet_ids": ["subnet-0aaa1111"]})


def test_interface_endpoints_admit_only_this_accounts_principals_and_resources(default_plan):
    """Every interface endpoint carries a policy, eks and eks-auth included (EKS user guide,
    "Access Amazon EKS using AWS PrivateLink", endpoint policies; awsdocs/amazon-eks-user-guide#873,
    read 2026-12-07); without one an endpoint accepts any account's credentials."""
    from stacks.aws.network import POLICY_ENDPOINTS

    endpoints = {r["inputs"]["serviceName"].removeprefix("com.amazonaws.us-east-1."): r["inputs"]
                 for r in default_plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    interface = {name for name, ep in endpoints.items() if ep["vpcEndpointType"] == "Interface"}
    with_policy = {name for name, ep in endpoints.items() if ep.get("policy") and name != "s3"}
    assert with_policy == interface == set(POLICY_ENDPOINTS)
    assert {"eks", "eks-auth"} <= with_policy
    # Systems Manager's endpoints are not there at all: nothing the kit runs uses them.
    assert not {"ssm", "ssmmessages", "ec2messages"} & set(endpoints)
    for service in POLICY_ENDPOINTS:
        stmt, *more = policy_doc(endpoints[service]["policy"])
        assert stmt["Effect"] == "Allow" and stmt["Principal"] == "*"
        assert stmt["Condition"] == {"StringEquals": {"aws:PrincipalAccount": "123456789012"},
                                     "StringEqualsIfExists": {"aws:ResourceAccount": "123456789012"}}
        if service in ("ecr.api", "ecr.dkr"):  # nodes pull the EKS add-ons' images from AWS's
            (addons,) = more                   # registry: image reads only, our principals only
            assert addons["Action"] == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                        "ecr:BatchCheckLayerAvailability"]
            assert addons["Resource"] == ["arn:aws:ecr:us-east-1:602401143452:repository/*"]
            assert addons["Condition"] == {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}
        else:
            assert more == []
    s3 = endpoints["s3"]["policy"]          # the gateway endpoint keeps its bucket list
    assert {s["Sid"] for s in policy_doc(s3)} == {"KitBuckets", "DataRead", "EcrLayers"}


def test_with_egress_off_dns_answers_only_the_names_the_deployment_needs(default_plan):
    lists = {r["name"]: r["inputs"]["domains"]
             for r in default_plan.of_type("aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList")}
    assert lists["dns-everything"] == ["*."]
    assert all(d.endswith(("amazonaws.com.", "internal.")) for d in lists["dns-allowed"])
    rule_type = "aws:route53/resolverFirewallRule:ResolverFirewallRule"
    rules = {r["name"]: r["inputs"] for r in default_plan.of_type(rule_type)}
    assert rules["dns-allow"]["action"] == "ALLOW" and rules["dns-block"]["action"] == "BLOCK"
    assert rules["dns-allow"]["priority"] < rules["dns-block"]["priority"]
    assert rules["dns-block"]["blockResponse"] == "NXDOMAIN"
    config = inputs(default_plan, "aws:route53/resolverFirewallConfig:ResolverFirewallConfig")
    assert config["firewallFailOpen"] == "DISABLED"                     # fails closed
    assoc_type = "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation"
    assoc = inputs(default_plan, assoc_type)
    assert assoc["vpcId"] == config["resourceId"]


def test_dns_firewall_association_can_be_removed_by_kit_down(default_plan):
    """Mutation protection ENABLED "disallows modification or removal of the association"
    (Route 53 Resolver UpdateFirewallRuleGroupAssociation, MutationProtection; AWS Tools for
    PowerShell help, powershellgallery.com/packages/AWS.Tools.Route53Resolver, read
    2026-12-07): `kit down` could then delete neither the association nor the VPC under it."""
    assoc_type = "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation"
    assert inputs(default_plan, assoc_type)["mutationProtection"] == "DISABLED"


def test_with_egress_opted_in_there_is_no_dns_firewall():
    plan = plan_of(make_cfg(network={"egress": True}))
    assert plan.of_type("aws:route53/resolverFirewallRuleGroup:ResolverFirewallRuleGroup") == []


@pytest.mark.parametrize("egress", [False, True])
def test_storage_pods_reach_only_s3s_own_ranges_and_the_identity_agent(egress):
    """Not 0.0.0.0/0:443: in the private VPC that reaches every interface endpoint (another
    account's logs, ECR or SSM through them), and with egress opted in the whole internet."""
    cfg = make_cfg(network={"egress": egress}, aws={"account_id": "123456789012"})
    policy = inputs(plan_of(cfg), "kubernetes:networking.k8s.io/v1:NetworkPolicy",
                    "networkpolicy:lima-kit/allow-storage")
    rules = [([peer["ipBlock"]["cidr"] for peer in rule["to"]], rule["ports"])
             for rule in policy["spec"]["egress"]]
    # The mocks answer the region's S3 prefix list with these two ranges.
    assert rules == [(["16.182.0.0/16", "52.216.0.0/15"], [{"protocol": "TCP", "port": 443}]),
                     (["169.254.170.23/32"], [{"protocol": "TCP", "port": 80}])]
    assert "storage service's own address ranges" in policy["metadata"]["annotations"]["lima-kit.io/why"]


def test_add_on_registry_follows_the_region():
    from stacks.aws.addon_images import addon_registry_account

    assert addon_registry_account("eu-south-1") == "590381155156"
    assert addon_registry_account("us-west-2") == "602401143452"
    with pytest.raises(KitError, match="region: 'xx-nowhere-1' has no known EKS add-on image registry"):
        addon_registry_account("xx-nowhere-1")


def test_no_vpc_endpoints_without_egress_is_refused_in_one_line():
    """Without the S3 gateway endpoint (whose policy names the kit's buckets) storage pods
    would reach S3's public ranges with no bucket scoping, unnoticed; without egress as well,
    no AWS API is reachable at all."""
    with pytest.raises(KitError) as err:
        plan_of(make_cfg(aws={"vpc_endpoints": False}))
    assert err.value.one_line().startswith(
        "aws.vpc_endpoints: false leaves storage pods on S3's public addresses with no bucket "
        "scoping, and network.egress is false (hint: keep aws.vpc_endpoints: true")


def test_no_vpc_endpoints_is_an_explicit_choice_with_egress():
    plan = plan_of(make_cfg(aws={"vpc_endpoints": False}, network={"egress": True}))
    assert plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") == []
    assert plan.of_type("aws:ec2/natGateway:NatGateway")
