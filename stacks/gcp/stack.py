"""The GCP part of the Pulumi program: key, private network, GKE, node pools, buckets,
identity, registry and audit logs, wired in order.

Returns the contract's ClusterOutputs with plain values (names are predictable, so the
platform layer and the charts can be rendered before anything exists), the operator's
kubeconfig and the Kubernetes provider for the new cluster.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from stacks.contract import ClusterOutputs
from stacks.gcp import (
    SUPPORT,
    cluster,
    gpu_pool,
    identity,
    keys,
    network,
    perimeter,
    registry,
    storage,
    volumes,
)
from stacks.gcp.catalog import disk_type
from stacks.gcp.common import make_ctx
from stacks.gcp.defaults import outputs
from stacks.gcp.names import ADOPTABLE
from stacks.settings import StackSettings, adoptions


def build(settings: StackSettings) -> tuple[ClusterOutputs, pulumi.Output[str], k8s.Provider]:
    cfg = settings.kit
    ctx = make_ctx(cfg.name, cfg.region or "", cfg.gcp, settings.purge,
                   adoptions(settings, ADOPTABLE), cfg.logs.retention_days)
    perimeter.require(ctx.gcp)
    data_number = (gcp.organizations.get_project(project_id=ctx.gcp.data_project,
                                                 opts=ctx.invoke()).number
                   if ctx.gcp.data_project else ctx.project_number)
    perimeter.perimeter(ctx, str(data_number), cfg.network.operator_cidrs)
    notes = perimeter.notes(ctx.gcp, ctx.project_number, cfg.network.operator_cidrs)
    if notes:
        pulumi.export("notes", notes)
    kit_key = keys.key(ctx)
    key, agent_grants = kit_key.key, kit_key.grants
    gcs_agent = gcp.storage.get_project_service_account(project=ctx.project, opts=ctx.invoke())
    gcs_grant = keys.grant(ctx, "storage", key, f"serviceAccount:{gcs_agent.email_address}")
    buckets = storage.buckets(ctx, cfg.data.uri, key.id, [gcs_grant])
    net = network.network(ctx, cfg.network.egress)
    nodes, node_grants = gpu_pool.node_account(ctx)
    registry.registry(ctx, key.id, nodes.email, agent_grants)
    gke = cluster.cluster(ctx, net, cfg.network.operator_cidrs, key.id, nodes.email,
                          [*agent_grants, *node_grants])
    pools = gpu_pool.pools(ctx, net, gke.gke, nodes, key.id, cfg.gpu.type, cfg.gpu.count,
                           cfg.gpu.max_nodes, cfg.gpu.spot, [*agent_grants, *node_grants])
    namespace = cfg.kubernetes.namespace
    # Workload Identity's pool (<project>.svc.id.goog) exists once a cluster uses it.
    identity.workloads(ctx, namespace, buckets, cfg.eval.uri, after=[gke.gke])
    keys.audit_logs(ctx, key, net.subnet_name, agent_grants)
    provider = k8s.Provider("gke", kubeconfig=gke.kubeconfig, enable_server_side_apply=True,
                            delete_unreachable=True,
                            opts=pulumi.ResourceOptions(depends_on=[pools.system]))
    machine = SUPPORT.gpu_offer(cfg.gpu.type, cfg.gpu.count).machine_types[0]
    volumes.model_volumes(key.id, ctx.region, disk_type(machine), [pools.system], provider)
    out = outputs(cfg, ctx.project, ctx.project_number, private_cidrs=[net.subnet_cidr])
    return out, gke.kubeconfig, provider
