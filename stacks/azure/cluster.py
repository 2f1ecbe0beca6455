"""AKS as a network-isolated cluster.

- No way out unless `network.egress`: outbound type `none` (or azure.outbound_type), node
  images and AKS's own components from the kit's private Premium registry (bootstrap artifact
  source `Cache`: the registry's `mcr.microsoft.com/*` cache rule, reached through its private
  endpoint).
- API server: private (a private cluster, VNet-integrated) unless `network.operator_cidrs`,
  then public and limited to exactly those ranges; `run command` off.
- Entra ID only: Azure RBAC for Kubernetes authorization, local accounts disabled (no admin
  kubeconfig exists); the operator who runs `kit up` (and azure.admin_group_object_ids) get
  cluster admin; the kubeconfig runs `kit cluster-token azure`.
- OIDC issuer and workload identity on; network policy enforced (Cilium by default).
- Kubernetes secrets encrypted with the kit's key (KMS, the vault reached privately), node
  disks with it (disk encryption set), encryption at host.
- Control-plane audit logs (kube-audit, kube-audit-admin, guard) to the kept workspace.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure
import yaml

from stacks.azure import names
from stacks.azure.common import Ctx, grant, user_identity
from stacks.azure.keys import Keys
from stacks.azure.network import Network

AUDIT_CATEGORIES = ("kube-audit", "kube-audit-admin", "guard")
SYSTEM_LABEL = {"lima-kit.io/pool": "system"}
POD_CIDR, SERVICE_CIDR, DNS_IP = "192.168.0.0/16", "172.16.0.0/16", "172.16.0.10"


@dataclass
class Cluster:
    aks: azure.containerservice.ManagedCluster
    name: str
    kubelet: azure.managedidentity.UserAssignedIdentity
    issuer: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    ready: list[pulumi.Resource]       # what Kubernetes objects wait for


def outbound_type(ctx: Ctx, egress: bool) -> str:
    return "userAssignedNATGateway" if egress else ctx.azure.outbound_type


def network_profile(ctx: Ctx, egress: bool) -> dict:
    policy = ctx.azure.network_policy
    profile = {"network_plugin": "azure", "network_plugin_mode": "overlay", "network_policy": policy,
               "outbound_type": outbound_type(ctx, egress), "load_balancer_sku": "standard",
               "pod_cidr": POD_CIDR, "service_cidr": SERVICE_CIDR, "dns_service_ip": DNS_IP,
               "ip_families": ["IPv4"]}
    if policy == "cilium":
        profile["network_dataplane"] = "cilium"
    return profile


def api_server(net: Network, operator_cidrs: list[str]) -> dict:
    public = bool(operator_cidrs)
    profile = {"enable_private_cluster": not public, "enable_vnet_integration": True,
               "subnet_id": net.apiserver_subnet, "disable_run_command": True}
    if public:
        profile["authorized_ip_ranges"] = list(operator_cidrs)
    else:
        profile.update(private_dns_zone="system", enable_private_cluster_public_fqdn=False)
    return profile


def system_pool(ctx: Ctx, net: Network) -> dict:
    return {"name": "system", "mode": "System", "vm_size": ctx.azure.system_vm_size,
            "count": 2, "min_count": 1, "max_count": 3, "enable_auto_scaling": True,
            "os_type": "Linux", "os_sku": "AzureLinux", "os_disk_type": "Managed",
            "os_disk_size_gb": 128, "type": "VirtualMachineScaleSets",
            "vnet_subnet_id": net.node_subnet, "enable_node_public_ip": False,
            "enable_encryption_at_host": True, "node_labels": dict(SYSTEM_LABEL),
            "tags": dict(ctx.tags), "upgrade_settings": {"max_surge": "1"}}


def cluster(ctx: Ctx, net: Network, keys: Keys, registry: azure.containerregistry.Registry,
            workspace: azure.operationalinsights.Workspace, egress: bool,
            operator_cidrs: list[str], after: list[pulumi.Resource]) -> Cluster:
    """`after`: the registry's and the vault's private endpoints (bootstrap and KMS need them)."""
    identity = user_identity(ctx, "cluster")
    kubelet = user_identity(ctx, "kubelet")
    pid = identity.principal_id
    grants = [
        grant(ctx, "cluster-kubelet-operator", pid, "Managed Identity Operator", kubelet.id, parent=identity),
        grant(ctx, "cluster-node-subnet", pid, "Network Contributor", net.node_subnet, parent=identity),
        grant(ctx, "cluster-apiserver-subnet", pid, "Network Contributor", net.apiserver_subnet,
              parent=identity),
        # KMS: wrap/unwrap with the kit's key, and the private endpoint AKS makes to the vault.
        grant(ctx, "cluster-kms-key", pid, "Key Vault Crypto User", keys.key.id, parent=identity),
        grant(ctx, "cluster-kms-vault", pid, "Key Vault Contributor", keys.vault.id, parent=identity),
        grant(ctx, "cluster-disk-encryption", pid, "Reader", keys.disks.id, parent=identity),
    ]
    pulls = grant(ctx, "kubelet-acr-pull", kubelet.principal_id, "AcrPull", registry.id, parent=kubelet)
    aad = {"managed": True, "enable_azure_rbac": True, "tenant_id": ctx.tenant}
    if ctx.azure.admin_group_object_ids:
        aad["admin_group_object_ids"] = list(ctx.azure.admin_group_object_ids)
    aks = azure.containerservice.ManagedCluster(
        "cluster", resource_name_=ctx.name, resource_group_name=ctx.group.name, location=ctx.location,
        tags=ctx.tags, dns_prefix=ctx.name, kubernetes_version=ctx.azure.kubernetes_version,
        node_resource_group=names.node_group(ctx.name),
        sku={"name": "Base", "tier": "Standard"},
        identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
        identity_profile={"kubeletidentity": {"resource_id": kubelet.id, "client_id": kubelet.client_id,
                                              "object_id": kubelet.principal_id}},
        aad_profile=aad, disable_local_accounts=True, enable_rbac=True,
        api_server_access_profile=api_server(net, operator_cidrs),
        bootstrap_profile={"artifact_source": "Cache", "container_registry_id": registry.id},
        network_profile=network_profile(ctx, egress),
        oidc_issuer_profile={"enabled": True},
        security_profile={
            "workload_identity": {"enabled": True},
            "azure_key_vault_kms": {"enabled": True, "key_id": keys.key.key_uri_with_version,
                                    "key_vault_network_access": "Private",
                                    "key_vault_resource_id": keys.vault.id},
            "image_cleaner": {"enabled": True, "interval_hours": 168},
        },
        disk_encryption_set_id=keys.disks.id,
        storage_profile={"disk_csi_driver": {"enabled": True}, "snapshot_controller": {"enabled": True},
                         "blob_csi_driver": {"enabled": False}, "file_csi_driver": {"enabled": False}},
        auto_upgrade_profile={"upgrade_channel": "patch", "node_os_upgrade_channel": "NodeImage"},
        addon_profiles={},
        agent_pool_profiles=[system_pool(ctx, net)],
        opts=ctx.opts(depends_on=[*grants, pulls, *after]))
    azure.monitor.DiagnosticSetting(
        "cluster-audit", name="lima-kit-audit", resource_uri=aks.id, workspace_id=workspace.id,
        log_analytics_destination_type="Dedicated",
        logs=[{"category": c, "enabled": True} for c in AUDIT_CATEGORIES],
        opts=ctx.opts(parent=aks))
    admin = grant(ctx, "operator-cluster-admin", ctx.operator,
                  "Azure Kubernetes Service RBAC Cluster Admin", aks.id, principal_type=None, parent=aks)
    creds = azure.containerservice.list_managed_cluster_user_credentials_output(
        resource_group_name=ctx.group.name, resource_name=aks.name, format="exec", opts=ctx.invoke())
    kubeconfig = pulumi.Output.secret(creds.kubeconfigs.apply(lambda k: kubeconfig_for(ctx.name, k)))
    issuer = aks.oidc_issuer_profile.apply(lambda p: p.issuer_url)
    return Cluster(aks=aks, name=ctx.name, kubelet=kubelet, issuer=issuer, kubeconfig=kubeconfig,
                   ready=[admin])


def kubeconfig_for(name: str, kubeconfigs: list) -> str:
    """The kit's kubeconfig from the cluster's user credentials: their server and CA, and a
    user that runs `kit cluster-token azure` (an Entra token from azure-identity) instead of
    kubelogin. No token or key is in it."""
    from stacks.contract import exec_user

    first = kubeconfigs[0]
    value = first["value"] if isinstance(first, dict) else first.value
    raw = yaml.safe_load(base64.b64decode(value))
    cluster = raw["clusters"][0]["cluster"]
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": cluster["server"],
                                                "certificate-authority-data":
                                                    cluster["certificate-authority-data"]}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "users": [{"name": name, "user": exec_user("azure")}],
    })
