"""Private network: nodes in private subnets only, no internet or NAT gateway unless
`network.egress: true`, private endpoints for every AWS API the cluster calls, flow logs.

An existing VPC (stack config vpcId + subnetIds) is used as given; the kit then refuses
subnets whose route tables reach an internet or NAT gateway while egress is off.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from kit.errors import KitError
from stacks.aws.addon_images import addon_registry_account
from stacks.aws.common import Ctx, assume_role, policy, role, statement
from stacks.aws.keys import log_group

# Interface endpoints (private DNS on): registry, identity (STS, and EKS Auth for the Pod
# Identity agent: "nodes in private subnets need an interface endpoint for the EKS Auth API",
# EKS user guide, "Set up the Amazon EKS Pod Identity Agent"), cluster, logs, and autoscaling
# for the cluster autoscaler. S3 is a gateway endpoint. No Systems Manager endpoints (ssm,
# ssmmessages, ec2messages): nothing the kit runs uses Session Manager or Run Command (nodes
# join through EKS's bootstrap), and an endpoint the deployment does not need is only a way out.
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts", "ec2", "eks", "eks-auth", "logs", "autoscaling")
# Every one takes an endpoint policy (AWS PrivateLink guide, "AWS services that integrate with
# AWS PrivateLink", endpoint policy support; for eks and eks-auth the EKS user guide, "Access
# Amazon EKS using AWS PrivateLink": "use VPC endpoint policies to control access", added
# 2025-02 by awsdocs/amazon-eks-user-guide#873; read 2026-12-07). Each gets one that admits
# only this account's principals acting on this account's resources, so a pod cannot use the
# endpoint with another account's credentials.
POLICY_ENDPOINTS = INTERFACE_ENDPOINTS
# ECR's endpoints also let this account's nodes read EKS add-on images from AWS's registry.
ECR_ENDPOINTS = ("ecr.api", "ecr.dkr")


@dataclass
class Network:
    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    cidr: str
    route_table_ids: list[pulumi.Input[str]]
    subnet_zones: list[str] = field(default_factory=list)   # each subnet's availability zone
    endpoints: dict[str, aws.ec2.VpcEndpoint] = field(default_factory=dict)


def network(ctx: Ctx, egress: bool, kit_buckets: list[pulumi.Input[str]],
            data_bucket: pulumi.Input[str], key_arn: pulumi.Input[str]) -> Network:
    """kit_buckets/data_bucket: bucket ARNs the S3 endpoint lets through (read-write / read)."""
    opts = ctx.aws
    if not opts.vpc_endpoints and not egress:
        # Without the endpoints nothing limits which buckets the storage pods reach (the S3
        # gateway endpoint's policy does that), and with egress off no AWS API is reachable.
        raise KitError("aws.vpc_endpoints: false leaves storage pods on S3's public addresses "
                       "with no bucket scoping, and network.egress is false",
                       hint="keep aws.vpc_endpoints: true (the default), or set network.egress: "
                            "true to accept reaching AWS's public endpoints over NAT")
    if opts.vpc_id or opts.subnet_ids:
        net = _existing(ctx, egress)
    else:
        net = _create(ctx, egress)
    if opts.vpc_endpoints:
        _endpoints(ctx, net, kit_buckets, data_bucket)
    _flow_logs(ctx, net, key_arn)
    return net


def _subnet_cidrs(cidr: str, count: int) -> tuple[list[str], list[str]]:
    """Private subnets: the first eighths of the VPC; public (egress only): small, at the end."""
    vpc = ipaddress.ip_network(cidr)
    if not 16 <= vpc.prefixlen <= 20:
        raise KitError(f"aws.vpc_cidr: {cidr} must be a /16 to /20", hint="e.g. 10.42.0.0/16")
    private = [str(n) for n in list(vpc.subnets(new_prefix=vpc.prefixlen + 3))[:count]]
    public = [str(n) for n in list(vpc.subnets(new_prefix=vpc.prefixlen + 8))[-count:]]
    return private, public


def _create(ctx: Ctx, egress: bool) -> Network:
    count = ctx.aws.az_count
    if count not in (2, 3):
        raise KitError(f"aws.az_count: {count} must be 2 or 3")
    available = aws.get_availability_zones(state="available", opts=ctx.invoke()).names
    zones = list(available[:count])
    reserved = ctx.aws.capacity_reservation_zone   # the GPU reservation's zone is one of them
    if reserved and reserved in available and reserved not in zones:
        zones = zones[:count - 1] + [reserved]
    if len(zones) < 2:
        raise KitError(f"region {ctx.region}: fewer than 2 availability zones are available")
    private_cidrs, public_cidrs = _subnet_cidrs(ctx.aws.vpc_cidr, len(zones))
    vpc = aws.ec2.Vpc("vpc", cidr_block=ctx.aws.vpc_cidr, enable_dns_support=True,
                      enable_dns_hostnames=True, tags={"Name": ctx.name}, opts=ctx.opts())
    # The default security group of the VPC: managed so that it allows nothing at all.
    aws.ec2.DefaultSecurityGroup("default-sg", vpc_id=vpc.id, ingress=[], egress=[],
                                 opts=ctx.opts(parent=vpc))
    private_rt = aws.ec2.RouteTable("private-rt", vpc_id=vpc.id,
                                    tags={"Name": f"{ctx.name}-private"}, opts=ctx.opts(parent=vpc))
    subnets = []
    for i, (zone, cidr) in enumerate(zip(zones, private_cidrs, strict=True)):
        sn = aws.ec2.Subnet(f"private-{i}", vpc_id=vpc.id, cidr_block=cidr, availability_zone=zone,
                            map_public_ip_on_launch=False,
                            tags={"Name": f"{ctx.name}-private-{zone}",
                                  "kubernetes.io/role/internal-elb": "1"},
                            opts=ctx.opts(parent=vpc))
        aws.ec2.RouteTableAssociation(f"private-{i}", subnet_id=sn.id, route_table_id=private_rt.id,
                                      opts=ctx.opts(parent=sn))
        subnets.append(sn.id)
    if egress:
        _egress(ctx, vpc, zones, public_cidrs, private_rt)
    return Network(vpc_id=vpc.id, subnet_ids=subnets, cidr=ctx.aws.vpc_cidr,
                   route_table_ids=[private_rt.id], subnet_zones=list(zones))


def _egress(ctx: Ctx, vpc: aws.ec2.Vpc, zones: list[str], cidrs: list[str],
            private_rt: aws.ec2.RouteTable) -> None:
    """Opt-in egress: one NAT gateway in a public subnet; nodes stay in private subnets."""
    igw = aws.ec2.InternetGateway("igw", vpc_id=vpc.id, opts=ctx.opts(parent=vpc))
    public_rt = aws.ec2.RouteTable("public-rt", vpc_id=vpc.id, tags={"Name": f"{ctx.name}-public"},
                                   opts=ctx.opts(parent=vpc))
    aws.ec2.Route("public-default", route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0",
                  gateway_id=igw.id, opts=ctx.opts(parent=public_rt))
    first = None
    for i, (zone, cidr) in enumerate(zip(zones, cidrs, strict=True)):
        sn = aws.ec2.Subnet(f"public-{i}", vpc_id=vpc.id, cidr_block=cidr, availability_zone=zone,
                            map_public_ip_on_launch=False,
                            tags={"Name": f"{ctx.name}-public-{zone}"}, opts=ctx.opts(parent=vpc))
        aws.ec2.RouteTableAssociation(f"public-{i}", subnet_id=sn.id, route_table_id=public_rt.id,
                                      opts=ctx.opts(parent=sn))
        first = first or sn
    eip = aws.ec2.Eip("nat-ip", domain="vpc", opts=ctx.opts(parent=vpc, depends_on=[igw]))
    nat = aws.ec2.NatGateway("nat", allocation_id=eip.id, subnet_id=first.id,
                             connectivity_type="public", opts=ctx.opts(parent=vpc))
    aws.ec2.Route("private-egress", route_table_id=private_rt.id,
                  destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id,
                  opts=ctx.opts(parent=private_rt))


def _existing(ctx: Ctx, egress: bool) -> Network:
    from stacks.aws.existing_vpc import check_resolver, check_routes

    opts = ctx.aws
    if not (opts.vpc_id and len(opts.subnet_ids) >= 2):
        raise KitError("aws.subnet_ids: an existing VPC needs vpc_id and at least 2 private "
                       "subnets in different availability zones", hint="set both in kit.yaml")
    vpc = aws.ec2.get_vpc(id=opts.vpc_id, opts=ctx.invoke())
    # "default": no DHCP option set at all (EC2 API reference, AssociateDhcpOptions), so no
    # other name server is handed out, and there is no option set to look up.
    if not egress and vpc.dhcp_options_id and vpc.dhcp_options_id != "default":
        dhcp = aws.ec2.get_vpc_dhcp_options(dhcp_options_id=vpc.dhcp_options_id, opts=ctx.invoke())
        check_resolver(opts.vpc_id, vpc.dhcp_options_id, list(dhcp.domain_name_servers or []))
    tables, zones = [], []
    for subnet in opts.subnet_ids:
        zones.append(aws.ec2.get_subnet(id=subnet, opts=ctx.invoke()).availability_zone)
        rt = aws.ec2.get_route_table(subnet_id=subnet, opts=ctx.invoke())
        if not egress:
            check_routes(subnet, rt.route_table_id, list(rt.routes or []))
        if rt.route_table_id not in tables:
            tables.append(rt.route_table_id)
    return Network(vpc_id=opts.vpc_id, subnet_ids=list(opts.subnet_ids), cidr=vpc.cidr_block,
                   route_table_ids=tables, subnet_zones=zones)


def s3_ranges(ctx: Ctx):
    """The region's S3 prefix list: S3's own addresses, which the gateway endpoint routes
    privately. Security groups name it by id; NetworkPolicies need its CIDRs."""
    return aws.ec2.get_prefix_list(name=f"com.amazonaws.{ctx.region}.s3", opts=ctx.invoke())


def _endpoints(ctx: Ctx, net: Network, kit_buckets: list[pulumi.Input[str]],
               data_bucket: pulumi.Input[str]) -> None:
    sg = aws.ec2.SecurityGroup(
        "endpoints-sg", vpc_id=net.vpc_id, description="lima-kit private endpoints: HTTPS from the VPC",
        ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": [net.cidr],
                  "description": "HTTPS from inside the VPC"}],
        egress=[], opts=ctx.opts())
    this_account = statement(
        "Allow", ["*"], "*", Sid="ThisAccountOnly", Principal="*",
        Condition={"StringEquals": {"aws:PrincipalAccount": ctx.account},
                   "StringEqualsIfExists": {"aws:ResourceAccount": ctx.account}})
    addon_repos = (f"arn:{ctx.partition}:ecr:{ctx.region}:{addon_registry_account(ctx.region)}:"
                   "repository/*")
    addon_images = statement(
        "Allow", ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                  "ecr:BatchCheckLayerAvailability"], [addon_repos], Sid="EksAddonImages",
        Principal="*", Condition={"StringEquals": {"aws:PrincipalAccount": ctx.account}})
    policies = {service: policy(this_account, addon_images) if service in ECR_ENDPOINTS
                else policy(this_account) for service in POLICY_ENDPOINTS}
    for service in INTERFACE_ENDPOINTS:
        net.endpoints[service] = aws.ec2.VpcEndpoint(
            f"endpoint-{service.replace('.', '-')}", vpc_id=net.vpc_id,
            service_name=f"com.amazonaws.{ctx.region}.{service}", vpc_endpoint_type="Interface",
            private_dns_enabled=True, subnet_ids=net.subnet_ids, security_group_ids=[sg.id],
            policy=policies.get(service),
            opts=ctx.opts(parent=sg))
    # S3 through the gateway endpoint reaches only the kit's buckets, the customer's data
    # bucket and ECR's layer storage: a pod cannot copy data to a bucket elsewhere.
    objects = [pulumi.Output.concat(a, "/*") for a in kit_buckets]
    ecr_layers = f"arn:{ctx.partition}:s3:::prod-{ctx.region}-starport-layer-bucket/*"
    net.endpoints["s3"] = aws.ec2.VpcEndpoint(
        "endpoint-s3", vpc_id=net.vpc_id, service_name=f"com.amazonaws.{ctx.region}.s3",
        vpc_endpoint_type="Gateway", route_table_ids=net.route_table_ids,
        policy=policy(
            statement("Allow", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                                "s3:ListBucket", "s3:GetBucketLocation", "s3:AbortMultipartUpload",
                                "s3:ListMultipartUploadParts", "s3:ListBucketMultipartUploads"],
                      list(kit_buckets) + objects, Sid="KitBuckets", Principal="*"),
            statement("Allow", ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
                      [data_bucket, pulumi.Output.concat(data_bucket, "/*")], Sid="DataRead",
                      Principal="*"),
            statement("Allow", ["s3:GetObject"], [ecr_layers], Sid="EcrLayers", Principal="*"),
        ),
        opts=ctx.opts())


def _flow_logs(ctx: Ctx, net: Network, key_arn: pulumi.Input[str]) -> None:
    group = log_group(ctx, "flow-logs", key_arn)
    writer = role(ctx, "flow-logs", assume_role(
        "vpc-flow-logs.amazonaws.com",
        condition={"StringEquals": {"aws:SourceAccount": ctx.account}}),
        inline=policy(statement("Allow", ["logs:CreateLogStream", "logs:PutLogEvents",
                                          "logs:DescribeLogStreams", "logs:DescribeLogGroups"],
                                [group.arn, pulumi.Output.concat(group.arn, ":*")])))
    aws.ec2.FlowLog("flow-log", vpc_id=net.vpc_id, traffic_type="ALL",
                    log_destination_type="cloud-watch-logs", log_destination=group.arn,
                    iam_role_arn=writer.arn, max_aggregation_interval=60, opts=ctx.opts())
