"""GKE control plane: private nodes, a private IP endpoint (public only for
network.operator_cidrs, and then for exactly those), the DNS-based endpoint, Workload
Identity, secrets encrypted with the kit's key, Dataplane V2 (NetworkPolicy enforced by
Cilium), shielded nodes, no legacy ABAC, no client certificates, a release channel and
control-plane logs.

The operator's path is the DNS-based control-plane endpoint: a name GKE serves on Google's
front end, reachable from any address and authorised by IAM alone (`container.clusters.connect`
plus the Kubernetes permissions), with no IP allow-list to keep up to date and no route into
the network needed (https://docs.cloud.google.com/kubernetes-engine/docs/concepts/network-isolation,
read 2026-12-07; API field `controlPlaneEndpointsConfig.dnsEndpointConfig.allowExternalTraffic`,
https://cloud.google.com/dotnet/docs/reference/Google.Cloud.Container.V1/latest/Google.Cloud.Container.V1.ControlPlaneEndpointsConfig.Types.DNSEndpointConfig).
Both kubeconfigs (the operator's and the program's Kubernetes provider's) name it, so the run
that creates the network can create Kubernetes objects in it from outside. Its certificate
is publicly trusted (gcloud's `get-credentials --dns-endpoint` writes no CA), so the
kubeconfig carries none. Only a VPC Service Controls perimeter could still keep the operator
out (the DNS endpoint honours one), which is the customer's choice.

GKE starts every cluster with a default node pool; it is removed at creation and the kit's own
pools (stacks/gcp/gpu_pool.py) carry the node settings. The kubeconfig (the operator's and the
program's Kubernetes provider's) runs `kit cluster-token gcp` for a token from the
application-default credentials: no gcloud plugin, and no token saved in the state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from stacks.contract import exec_user
from stacks.gcp.common import Ctx
from stacks.gcp.network import Network

LOG_COMPONENTS = ["SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS"]


@dataclass
class Cluster:
    gke: gcp.container.Cluster
    name: str
    kubeconfig: pulumi.Output[str]          # runs `kit cluster-token gcp`


def cluster(ctx: Ctx, net: Network, operator_cidrs: list[str], key_id: pulumi.Input[str],
            node_account: pulumi.Input[str], after: list[pulumi.Resource]) -> Cluster:
    public = bool(operator_cidrs)
    opts = ctx.gcp
    gke = gcp.container.Cluster(
        "cluster", name=ctx.name, location=ctx.region, network=net.network,
        subnetwork=net.subnetwork, networking_mode="VPC_NATIVE",
        ip_allocation_policy={"cluster_secondary_range_name": net.pods_range,
                              "services_secondary_range_name": net.services_range},
        private_cluster_config={"enable_private_nodes": True, "enable_private_endpoint": not public,
                                "master_ipv4_cidr_block": opts.master_cidr,
                                "master_global_access_config": {"enabled": False}},
        master_authorized_networks_config={
            "cidr_blocks": [{"cidr_block": c, "display_name": "network.operator_cidrs"}
                            for c in operator_cidrs],
            "gcp_public_cidrs_access_enabled": False},
        control_plane_endpoints_config={
            "dns_endpoint_config": {"allow_external_traffic": True},
            "ip_endpoints_config": {"enabled": True}},
        workload_identity_config={"workload_pool": f"{ctx.project}.svc.id.goog"},
        database_encryption={"state": "ENCRYPTED", "key_name": key_id},
        datapath_provider="ADVANCED_DATAPATH",
        enable_shielded_nodes=True, enable_legacy_abac=False,
        master_auth={"client_certificate_config": {"issue_client_certificate": False}},
        release_channel={"channel": opts.release_channel},
        logging_config={"enable_components": LOG_COMPONENTS},
        addons_config={"gce_persistent_disk_csi_driver_config": {"enabled": True}},
        security_posture_config={"mode": "BASIC", "vulnerability_mode": "VULNERABILITY_DISABLED"},
        remove_default_node_pool=True, initial_node_count=1,
        # The short-lived default pool runs as the kit's node account, never Compute's default.
        node_config={"service_account": node_account,
                     "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                     "workload_metadata_config": {"mode": "GKE_METADATA"},
                     "shielded_instance_config": {"enable_secure_boot": True,
                                                  "enable_integrity_monitoring": True},
                     "boot_disk_kms_key": key_id, "tags": [net.node_tag]},
        # `kit down` deletes the cluster itself; the default pool's node_config no longer
        # matches once that pool is gone, and must never read as a reason to replace it.
        resource_labels=dict(ctx.labels), deletion_protection=False,
        opts=ctx.opts(depends_on=after, ignore_changes=["nodeConfig"]))
    kubeconfig = pulumi.Output.secret(dns_endpoint(gke).apply(
        lambda host: _kubeconfig(ctx.name, host, exec_user("gcp"))))
    return Cluster(gke=gke, name=ctx.name, kubeconfig=kubeconfig)


def dns_endpoint(gke: gcp.container.Cluster) -> pulumi.Output[str]:
    """The cluster's DNS-based endpoint (e.g. gke-<uid>.<region>.gke.goog), an output of GKE."""
    def host(config) -> str:
        dns = config["dns_endpoint_config"] if isinstance(config, dict) else config.dns_endpoint_config
        return dns["endpoint"] if isinstance(dns, dict) else dns.endpoint
    return gke.control_plane_endpoints_config.apply(host)


def _kubeconfig(name: str, endpoint: str, user: dict) -> str:
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": f"https://{endpoint}"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "users": [{"name": name, "user": user}],
    })
