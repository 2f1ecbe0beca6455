"""The AWS part of the Pulumi program: private VPC, EKS, GPU pool, buckets, identity and
registry, wired in order.

Returns the contract's ClusterOutputs with plain values (names are predictable, so the
platform layer and the charts can be rendered before anything exists) and the Kubernetes
provider for the new cluster.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from stacks.aws import (
    SUPPORT,
    autoscaler,
    builder,
    cluster,
    dns,
    gpu_pool,
    identity,
    keys,
    network,
    registry,
    storage,
    volumes,
)
from stacks.aws.common import make_ctx
from stacks.aws.names import ADOPTABLE, MODEL_CLASS
from stacks.cluster_layer import image_copy
from stacks.contract import ClusterOutputs
from stacks.settings import StackSettings, adoptions


def build(settings: StackSettings) -> tuple[ClusterOutputs, pulumi.Output[str], k8s.Provider]:
    cfg = settings.kit
    ctx = make_ctx(cfg.name, cfg.region or "", cfg.aws, settings.purge,
                   adoptions(settings, ADOPTABLE), cfg.logs.retention_days)
    key = keys.key(ctx)
    buckets = storage.buckets(ctx, cfg.data.uri, key.arn)
    net = network.network(ctx, cfg.network.egress, [buckets.artifacts.arn, buckets.models.arn],
                          buckets.data.arn, key.arn)
    if not cfg.network.egress:
        dns.dns_firewall(ctx, net)
    repos = registry.registry(ctx, key.arn)
    builder.builder(ctx, net, buckets, key.arn, registry.registry_prefix(ctx))
    eks = cluster.cluster(ctx, net, cfg.network.operator_cidrs, key.arn)
    node_role = identity.node_role(ctx)
    pools = gpu_pool.pools(ctx, net, eks, node_role, cfg.gpu.type, cfg.gpu.count,
                           cfg.gpu.max_nodes, cfg.gpu.spot, key.arn)
    cluster.addons_after_nodes(ctx, eks, [pools.system])
    namespace = cfg.kubernetes.namespace
    identity.workloads(ctx, eks, namespace, buckets, cfg.data.uri, key.arn, cfg.eval.uri)
    # Every Kubernetes object goes through this provider, so it waits for the copies of the
    # images the stack's own objects run: nothing references an image not yet in ECR.
    copied = image_copy.copies(settings.images, registry.registry_prefix(ctx),
                               "stacks.aws.registry_login:login", lambda name: [repos[name]])
    provider = k8s.Provider("eks", kubeconfig=eks.kubeconfig, enable_server_side_apply=True,
                            delete_unreachable=True,
                            opts=pulumi.ResourceOptions(depends_on=[pools.system, *eks.addons,
                                                                    *copied]))
    autoscaler.autoscaler(ctx, eks, pools, provider, settings)
    volumes.model_volumes(ctx, eks, key.arn, [pools.system], provider)
    outputs = ClusterOutputs(
        cloud="aws", cluster_name=eks.name, namespace=namespace,
        artifacts_uri=f"s3://{buckets.names['artifacts']}",
        models_uri=f"s3://{buckets.names['models']}", bucket_owner=ctx.account, data_uri=cfg.data.uri,
        registry_prefix=registry.registry_prefix(ctx), internal_lb_annotations=dict(SUPPORT.internal_lb),
        private_cidrs=[net.cidr], storage_cidrs=sorted(network.s3_ranges(ctx).cidr_blocks),
        model_storage_class=MODEL_CLASS, model_snapshot_class=MODEL_CLASS)
    return outputs, eks.kubeconfig, provider
