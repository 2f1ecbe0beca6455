"""GKE control plane: private nodes, a private endpoint (public only for network.operator_cidrs,
and then for exactly those), Workload Identity, secrets encrypted with the kit's key,
Dataplane V2 (NetworkPolicy enforced by Cilium), shielded nodes, no legacy ABAC, no client
certificates, a release channel and control-plane logs.

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

from kit.cluster.credential import exec_user
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
    ca = gke.master_auth.apply(lambda m: m["cluster_ca_certificate"] if isinstance(m, dict)
                               else m.cluster_ca_certificate)
    kubeconfig = pulumi.Output.secret(pulumi.Output.all(gke.endpoint, ca).apply(
        lambda v: _kubeconfig(ctx.name, v[0], v[1], exec_user("gcp"))))
    return Cluster(gke=gke, name=ctx.name, kubeconfig=kubeconfig)


def _kubeconfig(name: str, endpoint: str, ca: str, user: dict) -> str:
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": f"https://{endpoint}",
                                                "certificate-authority-data": ca}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "users": [{"name": name, "user": user}],
    })
