"""Node pools: a small system pool and a GPU pool that scales to zero.

Both are EKS managed node groups with the stack's own launch template, so what a reviewer
reads in the plan is what boots: IMDSv2 required with hop limit 1 (pods cannot reach the
node's credentials), root volumes encrypted with the stack's key, the stack tag on every
instance, volume and network interface. The GPU pool carries the taint and label of
stacks.contract; the cluster autoscaler (stacks/aws/autoscaler.py) scales it from zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from kit.errors import KitError
from stacks.aws.cluster import Cluster
from stacks.aws.common import Ctx
from stacks.aws.network import Network
from stacks.contract import GPU_LABEL, GPU_TAINT

GPU_DISK_GB = 500          # weights, merged checkpoints and the image cache live here
SYSTEM_INSTANCES = ["m7i.large", "m6i.large"]
SYSTEM_LABEL = {"lima-kit.io/pool": "system"}
_EFFECT = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE",
           "PreferNoSchedule": "PREFER_NO_SCHEDULE"}


def instance_types(gpu_type: str, count: int) -> list[str]:
    """The catalog's instance types for gpu.type x gpu.count (one-line error if none)."""
    from stacks.aws import SUPPORT

    return list(SUPPORT.gpu_offer(gpu_type, count).machine_types)


@dataclass
class Pools:
    system: aws.eks.NodeGroup
    gpu: aws.eks.NodeGroup
    node_role: aws.iam.Role


def reserved(ctx: Ctx, spot: bool) -> dict:
    """Launch template arguments that put the GPU pool into aws.capacity_reservation.

    An On-Demand Capacity Reservation is targeted by id (capacity_reservation_specification);
    a Capacity Block also needs the market type "capacity-block" in the launch template and
    the node group's capacity type CAPACITY_BLOCK (EKS user guide, "Create a managed node group
    with Capacity Blocks for ML", docs.aws.amazon.com/eks/latest/userguide/capacity-blocks-mng.html;
    EC2 Auto Scaling user guide, "Use Capacity Blocks for machine learning workloads", read
    2026-12-07). Either is on-demand capacity: spot cannot use it."""
    opts = ctx.aws
    if not opts.capacity_reservation:
        return {}
    if spot:
        raise KitError(f"aws.capacity_reservation: {opts.capacity_reservation} is reserved "
                       "on-demand capacity, but gpu.spot is true",
                       hint="set gpu.spot: false to use the reservation, or remove it")
    args: dict = {"capacity_reservation_specification": {
        "capacity_reservation_target": {"capacity_reservation_id": opts.capacity_reservation}}}
    if opts.capacity_block:
        args["instance_market_options"] = {"market_type": "capacity-block"}
    return args


def gpu_subnets(ctx: Ctx, net: Network) -> list:
    """Every subnet; with a reservation, only those in its zone: an instance launched in
    another zone cannot use it (the EKS Blueprints Capacity Block pattern restricts the node
    group to the reservation's zone for that reason, aws-ia.github.io/terraform-aws-eks-blueprints/
    patterns/machine-learning/ml-capacity-block, read 2026-12-07)."""
    zone = ctx.aws.capacity_reservation_zone
    if not zone:
        return list(net.subnet_ids)
    there = [s for s, z in zip(net.subnet_ids, net.subnet_zones, strict=True) if z == zone]
    if not there:
        raise KitError(f"aws.capacity_reservation_zone: {zone} is the zone of none of the "
                       f"GPU pool's subnets ({', '.join(sorted(set(net.subnet_zones)))})",
                       hint="a subnet in the reservation's zone (aws.subnet_ids), or a "
                            "reservation in one of those zones")
    return there


def capacity_type(ctx: Ctx, spot: bool) -> str:
    if ctx.aws.capacity_block:
        return "CAPACITY_BLOCK"
    return "SPOT" if spot else "ON_DEMAND"


def launch_template(ctx: Ctx, logical: str, disk_gb: int, key_arn: pulumi.Input[str],
                    **extra) -> aws.ec2.LaunchTemplate:
    return aws.ec2.LaunchTemplate(
        f"{logical}-lt", name_prefix=f"{ctx.name}-{logical}-",
        metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                          "http_put_response_hop_limit": 1, "instance_metadata_tags": "disabled"},
        block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {
            "volume_size": disk_gb, "volume_type": "gp3", "encrypted": "true",
            "kms_key_id": key_arn, "delete_on_termination": "true"}}],
        tag_specifications=[{"resource_type": kind, "tags": dict(ctx.tags)}
                            for kind in ("instance", "volume", "network-interface")],
        update_default_version=True, **extra, opts=ctx.opts())


def pools(ctx: Ctx, net: Network, c: Cluster, node_role: aws.iam.Role, gpu_type: str,
          gpu_count: int, max_nodes: int, spot: bool, key_arn: pulumi.Input[str]) -> Pools:
    gpu_types = instance_types(gpu_type, gpu_count)
    reservation = reserved(ctx, spot)
    if reservation:   # a reservation holds one instance type: the catalog's first for the GPU
        gpu_types = gpu_types[:1]
    system_lt = launch_template(ctx, "system", 50, key_arn)
    gpu_lt = launch_template(ctx, "gpu", GPU_DISK_GB, key_arn, **reservation)
    # The autoscaler owns desired size; the stack owns min and max.
    scaled = ctx.opts(parent=c.eks, depends_on=[*c.addons, *node_role.policies],
                      ignore_changes=["scalingConfig.desiredSize"])
    system = aws.eks.NodeGroup(
        "system", cluster_name=c.eks.name, node_group_name=f"{ctx.name}-system",
        node_role_arn=node_role.arn, subnet_ids=net.subnet_ids, ami_type="AL2023_x86_64_STANDARD",
        capacity_type="ON_DEMAND", instance_types=SYSTEM_INSTANCES,
        scaling_config={"min_size": 1, "desired_size": 2, "max_size": 3},
        update_config={"max_unavailable": 1}, labels=dict(SYSTEM_LABEL),
        launch_template={"id": system_lt.id, "version": system_lt.latest_version.apply(str)},
        opts=scaled)
    gpu = aws.eks.NodeGroup(
        "gpu", cluster_name=c.eks.name, node_group_name=f"{ctx.name}-gpu-{gpu_type}",
        node_role_arn=node_role.arn, subnet_ids=gpu_subnets(ctx, net), ami_type="AL2023_x86_64_NVIDIA",
        capacity_type=capacity_type(ctx, spot), instance_types=gpu_types,
        scaling_config={"min_size": 0, "desired_size": 0, "max_size": max_nodes},
        update_config={"max_unavailable": 1}, labels=dict(GPU_LABEL),
        taints=[{"key": GPU_TAINT["key"], "value": GPU_TAINT["value"],
                 "effect": _EFFECT[GPU_TAINT["effect"]]}],
        launch_template={"id": gpu_lt.id, "version": gpu_lt.latest_version.apply(str)},
        opts=scaled)
    return Pools(system=system, gpu=gpu, node_role=node_role)
