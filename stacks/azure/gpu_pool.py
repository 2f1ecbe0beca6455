"""The GPU pool: an AKS user node pool that AKS's own cluster autoscaler scales from 0 to
gpu.max_nodes, tainted and labelled as stacks.contract says, with AKS's managed GPU driver
(gpu_profile: Install). AKS does not run the NVIDIA device plugin: the cluster layer does
(CloudSupport.stack_images). Spot when gpu.spot (evicted VMs are deleted, never stopped and
billed); no node public IPs; disks encrypted with the kit's key and at host.
"""

from __future__ import annotations

import pulumi_azure_native as azure

from stacks.azure.cluster import Cluster
from stacks.azure.common import Ctx
from stacks.azure.names import SPOT_TAINT
from stacks.azure.network import Network
from stacks.contract import GPU_LABEL, GPU_TAINT

GPU_DISK_GB = 512          # weights, merged checkpoints and the image cache live here


def vm_size(gpu_type: str, count: int) -> str:
    """The catalog's VM size for gpu.type x gpu.count (one-line error if none). An AKS node
    pool has one VM size: the smallest that fits."""
    from stacks.azure import SUPPORT

    return SUPPORT.gpu_offer(gpu_type, count).machine_types[0]


def taints(spot: bool) -> list[str]:
    found = [f"{GPU_TAINT['key']}={GPU_TAINT['value']}:{GPU_TAINT['effect']}"]
    if spot:
        found.append(f"{SPOT_TAINT['key']}={SPOT_TAINT['value']}:{SPOT_TAINT['effect']}")
    return found


def gpu_pool(ctx: Ctx, net: Network, c: Cluster, gpu_type: str, gpu_count: int, max_nodes: int,
             spot: bool) -> azure.containerservice.AgentPool:
    size = vm_size(gpu_type, gpu_count)
    args: dict = {}
    if spot:
        args = {"scale_set_priority": "Spot", "scale_set_eviction_policy": "Delete",
                "spot_max_price": -1}   # pay at most the on-demand price; never evicted on price
    else:
        args = {"scale_set_priority": "Regular", "upgrade_settings": {"max_surge": "1"}}
    return azure.containerservice.AgentPool(
        "gpu", agent_pool_name="gpu", resource_name_=c.aks.name, resource_group_name=ctx.group.name,
        mode="User", vm_size=size, os_type="Linux", os_sku="Ubuntu", type="VirtualMachineScaleSets",
        count=0, min_count=0, max_count=max_nodes, enable_auto_scaling=True,
        node_taints=taints(spot), node_labels=dict(GPU_LABEL), gpu_profile={"driver": "Install"},
        os_disk_type="Managed", os_disk_size_gb=GPU_DISK_GB, enable_encryption_at_host=True,
        enable_node_public_ip=False, vnet_subnet_id=net.node_subnet, tags=ctx.tags, **args,
        # The autoscaler owns the node count; the stack owns its bounds.
        opts=ctx.opts(parent=c.aks, ignore_changes=["count"]))
