"""The Azure part of the Pulumi program: keys, network, storage, registry, AKS, the GPU pool,
the storage grants of the nodes' identity and the model volumes, wired in order.

Returns the contract's ClusterOutputs (names are deterministic, so the platform layer and the
charts can be rendered before anything exists), the kubeconfig and the Kubernetes provider of
the cluster.
"""

from __future__ import annotations

from dataclasses import fields

import pulumi
import pulumi_kubernetes as k8s

from stacks.azure import SUPPORT, cluster, gpu_pool, identity, keys, network, registry, storage, volumes
from stacks.azure.common import make_ctx
from stacks.azure.defaults import data_location, subscription
from stacks.azure.names import ADOPTABLE, KIT_CONTAINERS, MODEL_CLASS, gpu_tolerations, registry_prefix
from stacks.cluster_layer import image_copy
from stacks.contract import ClusterOutputs
from stacks.settings import StackSettings, adoptions


class AzureClusterOutputs(ClusterOutputs):
    """ClusterOutputs that may hold Pulumi Outputs: exported as they are, never deep-copied (an
    Output cannot be)."""

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def build(settings: StackSettings) -> tuple[ClusterOutputs, pulumi.Output[str], k8s.Provider]:
    cfg = settings.kit
    adopt = adoptions(settings, ADOPTABLE)
    sub = subscription(cfg)
    data_location(cfg.data.uri)
    egress = cfg.network.egress
    ctx = make_ctx(cfg.name, cfg.region or "", cfg.azure, sub, settings.purge, adopt,
                   cfg.logs.retention_days)
    kit_keys = keys.keys(ctx)
    workspace = keys.audit_workspace(ctx)
    net = network.network(ctx, egress, cfg.network.operator_cidrs)
    vault_endpoint = network.private_endpoint(ctx, "vault", net, kit_keys.vault.id, "vault", "vault")
    st = storage.storage(ctx, net, kit_keys, cfg.data.uri, cfg.network.operator_cidrs)
    acr, acr_push = registry.registry(ctx, cfg.network.operator_cidrs)
    acr_endpoint = network.private_endpoint(ctx, "registry", net, acr.id, "registry", "registry")
    aks = cluster.cluster(ctx, net, kit_keys, acr, workspace, egress, cfg.network.operator_cidrs,
                          after=[vault_endpoint, acr_endpoint])
    gpu_pool.gpu_pool(ctx, net, aks, cfg.gpu.type, cfg.gpu.count, cfg.gpu.max_nodes, cfg.gpu.spot)
    namespace = cfg.kubernetes.namespace
    identity.workloads(ctx, aks, st, cfg.eval.uri)
    # The device plugin's copy is in the registry before any object references it.
    copied = image_copy.copies(settings.images, registry_prefix(cfg.name, sub),
                               "stacks.azure.registry_login:login", lambda _name: [acr, acr_push])
    # `kit cluster-token azure` runs from the kit's own bin folder: the driver puts it first on
    # the engine's PATH (kit.infra.driver.kit_path), for a `destroy` from the saved state too.
    provider = k8s.Provider("aks", kubeconfig=aks.kubeconfig,
                            enable_server_side_apply=True, delete_unreachable=True,
                            opts=pulumi.ResourceOptions(depends_on=[aks.aks, *aks.ready, *copied]))
    volumes.model_volumes(kit_keys.disks.id, provider, depends_on=[aks.aks])
    artifacts, models = (f"az://{st.account_name}/{c}" for c in KIT_CONTAINERS)
    outputs = AzureClusterOutputs(
        cloud="azure", cluster_name=cfg.name, namespace=namespace,
        gpu_tolerations=gpu_tolerations(cfg.gpu.spot),
        artifacts_uri=artifacts, models_uri=models, data_uri=cfg.data.uri,
        # Storage tokens come from the nodes' metadata endpoint: no workload identity to name.
        trainer_sa_annotations={}, server_sa_annotations={},
        registry_prefix=registry_prefix(cfg.name, sub),
        internal_lb_annotations=dict(SUPPORT.internal_lb),
        private_cidrs=list(net.cidrs), storage_cidrs=[net.endpoint_cidr],
        model_storage_class=MODEL_CLASS, model_snapshot_class=MODEL_CLASS)
    return outputs, aks.kubeconfig, provider

