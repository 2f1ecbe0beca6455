"""Private network: a custom-mode VPC with no route to the internet, Google APIs on the
restricted VIP only, firewall rules that admit nothing from outside, and flow logs.

The network is created with its default internet route deleted; the one route out is to the
restricted VIP (199.36.153.4/30, served inside Google's network), and private DNS zones map
googleapis.com, pkg.dev and gcr.io onto it, so storage, the registry and every API the nodes
call resolve there. `network.egress: true` adds the default route and Cloud NAT back (nodes
still get no external addresses). An existing network (gcp.network + gcp.subnetwork) is used
as given, after checks; the kit's firewall rules are tagged onto its own nodes, so they hold
on a shared network too (gcp.private_dns: false when that network has its own zones for the
restricted VIP already). Without egress, a response policy answers no public name
(stacks/gcp/dns.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from kit.errors import KitError
from stacks.gcp.common import Ctx
from stacks.gcp.names import RESTRICTED_VIP

INTERNET = "0.0.0.0/0"
# A private zone each: the Google API, Artifact Registry and Container Registry domains.
API_ZONES = {"googleapis": "googleapis.com.", "pkg-dev": "pkg.dev.", "gcr-io": "gcr.io."}
VIP_ADDRESSES = ["199.36.153.4", "199.36.153.5", "199.36.153.6", "199.36.153.7"]


@dataclass
class Network:
    network: pulumi.Input[str]          # self link / id
    subnetwork: pulumi.Input[str]
    subnet_name: str
    subnet_cidr: str
    pods_range: str
    services_range: str
    node_tag: str                        # the network tag on the kit's nodes


def network(ctx: Ctx, egress: bool) -> Network:
    opts = ctx.gcp
    net = _existing(ctx) if opts.network else _create(ctx, egress)
    _firewall(ctx, net, egress)
    if opts.private_dns:
        _private_dns(ctx, net)
        if not egress:  # public names answer nothing (stacks/gcp/dns.py)
            from stacks.gcp.dns import response_policy

            response_policy(ctx, net)
    return net


def _create(ctx: Ctx, egress: bool) -> Network:
    opts = ctx.gcp
    vpc = gcp.compute.Network(
        "network", name=ctx.name, auto_create_subnetworks=False, routing_mode="REGIONAL",
        delete_default_routes_on_create=True,
        description=f"lima-kit {ctx.name}: private, no route to the internet", opts=ctx.opts())
    subnet = gcp.compute.Subnetwork(
        "nodes", name=f"{ctx.name}-nodes", region=ctx.region, network=vpc.id,
        ip_cidr_range=opts.subnet_cidr, private_ip_google_access=True, stack_type="IPV4_ONLY",
        secondary_ip_ranges=[{"range_name": opts.pods_range, "ip_cidr_range": opts.pods_cidr},
                             {"range_name": opts.services_range,
                              "ip_cidr_range": opts.services_cidr}],
        log_config={"aggregation_interval": "INTERVAL_5_SEC", "flow_sampling": 1.0,
                    "metadata": "INCLUDE_ALL_METADATA"},
        opts=ctx.opts(parent=vpc))
    gcp.compute.Route("restricted-apis", name=f"{ctx.name}-restricted-apis", network=vpc.id,
                      dest_range=RESTRICTED_VIP, next_hop_gateway="default-internet-gateway",
                      priority=900, description="Google APIs on the restricted VIP only",
                      opts=ctx.opts(parent=vpc))
    if egress:
        _egress(ctx, vpc)
    return Network(network=vpc.id, subnetwork=subnet.id, subnet_name=f"{ctx.name}-nodes",
                   subnet_cidr=opts.subnet_cidr,
                   pods_range=opts.pods_range, services_range=opts.services_range,
                   node_tag=f"{ctx.name}-node")


def _egress(ctx: Ctx, vpc: gcp.compute.Network) -> None:
    """Opt-in egress: the default route back, and Cloud NAT (nodes keep private addresses)."""
    gcp.compute.Route("internet", name=f"{ctx.name}-internet", network=vpc.id, dest_range=INTERNET,
                      next_hop_gateway="default-internet-gateway", priority=1000,
                      description="network.egress: true", opts=ctx.opts(parent=vpc))
    router = gcp.compute.Router("router", name=f"{ctx.name}-router", region=ctx.region,
                                network=vpc.id, opts=ctx.opts(parent=vpc))
    gcp.compute.RouterNat("nat", name=f"{ctx.name}-nat", router=router.name, region=ctx.region,
                          nat_ip_allocate_option="AUTO_ONLY",
                          source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
                          log_config={"enable": True, "filter": "ERRORS_ONLY"},
                          opts=ctx.opts(parent=router))


def _existing(ctx: Ctx) -> Network:
    opts = ctx.gcp
    sub = gcp.compute.get_subnetwork(name=opts.subnetwork, region=ctx.region, project=ctx.project,
                                     opts=ctx.invoke())
    where = f"gcp.subnetwork: {opts.subnetwork} ({ctx.region})"
    if not sub.network.rstrip("/").endswith(f"/networks/{opts.network}"):
        raise KitError(f"{where} is in network {sub.network.rsplit('/', 1)[-1]}, not {opts.network}",
                       hint="name the subnetwork's own network in gcp.network")
    if not sub.private_ip_google_access:
        raise KitError(f"{where} has Private Google Access off: private nodes could not reach "
                       "Google APIs", hint=f"gcloud compute networks subnets update {opts.subnetwork} "
                                           f"--region {ctx.region} --enable-private-ip-google-access")
    ranges = {r.range_name for r in sub.secondary_ip_ranges or []}
    for key in ("pods_range", "services_range"):
        wanted = getattr(opts, key)
        if wanted not in ranges:
            raise KitError(f"gcp.{key}: {opts.subnetwork} has no secondary range {wanted!r} "
                           f"(it has {', '.join(sorted(ranges)) or 'none'})",
                           hint=f"add one, or set gcp.{key} to one of its ranges")
    return Network(network=sub.network, subnetwork=sub.self_link, subnet_name=opts.subnetwork or "",
                   subnet_cidr=sub.ip_cidr_range,
                   pods_range=opts.pods_range, services_range=opts.services_range,
                   node_tag=f"{ctx.name}-node")


def _firewall(ctx: Ctx, net: Network, egress: bool) -> None:
    """Nothing in from anywhere outside (GKE adds its own rules for the control plane and load
    balancers' health checks); without egress, the kit's nodes reach only the cluster's own
    ranges and the restricted VIP. Every denial is logged."""
    logged = {"metadata": "INCLUDE_ALL_METADATA"}
    gcp.compute.Firewall(
        "deny-ingress", name=f"{ctx.name}-deny-ingress", network=net.network, direction="INGRESS",
        priority=65534, source_ranges=[INTERNET], denies=[{"protocol": "all"}],
        target_tags=[net.node_tag], log_config=logged,
        description="nothing from outside the network reaches the kit's nodes", opts=ctx.opts())
    if egress:
        return
    internal = [net.subnet_cidr, ctx.gcp.pods_cidr, ctx.gcp.services_cidr, ctx.gcp.master_cidr]
    gcp.compute.Firewall(
        "allow-egress-internal", name=f"{ctx.name}-allow-egress-internal", network=net.network,
        direction="EGRESS", priority=100, destination_ranges=internal, allows=[{"protocol": "all"}],
        target_tags=[net.node_tag], description="nodes, pods, services and the control plane",
        opts=ctx.opts())
    gcp.compute.Firewall(
        "allow-egress-google", name=f"{ctx.name}-allow-egress-google", network=net.network,
        direction="EGRESS", priority=100, destination_ranges=[RESTRICTED_VIP],
        allows=[{"protocol": "tcp", "ports": ["443"]}], target_tags=[net.node_tag],
        description="Google APIs on the restricted VIP", opts=ctx.opts())
    gcp.compute.Firewall(
        "deny-egress", name=f"{ctx.name}-deny-egress", network=net.network, direction="EGRESS",
        priority=200, destination_ranges=[INTERNET], denies=[{"protocol": "all"}],
        target_tags=[net.node_tag], log_config=logged,
        description="network.egress is false: nothing else leaves", opts=ctx.opts())


def _private_dns(ctx: Ctx, net: Network) -> None:
    """googleapis.com, pkg.dev and gcr.io resolve to the restricted VIP inside the network."""
    for logical, domain in API_ZONES.items():
        zone = gcp.dns.ManagedZone(
            f"zone-{logical}", name=f"{ctx.name}-{logical}", dns_name=domain, visibility="private",
            description=f"lima-kit {ctx.name}: {domain} on the restricted VIP",
            private_visibility_config={"networks": [{"network_url": net.network}]},
            opts=ctx.opts())
        apex = "restricted.googleapis.com." if logical == "googleapis" else domain
        gcp.dns.RecordSet(f"zone-{logical}-a", managed_zone=zone.name, name=apex, type="A",
                          ttl=300, rrdatas=list(VIP_ADDRESSES), opts=ctx.opts(parent=zone))
        gcp.dns.RecordSet(f"zone-{logical}-cname", managed_zone=zone.name, name=f"*.{domain}",
                          type="CNAME", ttl=300, rrdatas=[apex], opts=ctx.opts(parent=zone))
