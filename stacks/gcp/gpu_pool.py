"""Node pools: a small system pool and a GPU pool that scales from zero, both running as the
kit's own least-privilege node service account (never Compute's default one).

Every pool: the GKE metadata server (pods never see the node's credentials), shielded nodes
with secure boot, boot disks encrypted with the kit's key, the network tag the kit's firewall
rules target, auto-repair and auto-upgrade. The GPU pool: GKE installs the NVIDIA driver and
device plugin, carries the contract's taint and label, spot when gpu.spot, and only in the
region's zones that offer its machine type (a one-line error when none does, listing what the
region has).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from kit.errors import KitError
from stacks.contract import GPU_LABEL, GPU_TAINT
from stacks.gcp.catalog import CATALOG, SYSTEM_MACHINES, accelerator, all_machine_types, disk_type
from stacks.gcp.common import Ctx, member
from stacks.gcp.names import google_account_id
from stacks.gcp.network import Network

GPU_DISK_GB = 500          # weights, merged checkpoints and the image cache live here
SYSTEM_LABEL = {"lima-kit.io/pool": "system"}
# GKE's least-privilege role for node service accounts (logs, metrics, node metadata).
NODE_ROLES = ("roles/container.defaultNodeServiceAccount",)
_EFFECT = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE",
           "PreferNoSchedule": "PREFER_NO_SCHEDULE"}


@dataclass
class Pools:
    system: gcp.container.NodePool
    gpu: gcp.container.NodePool


def node_account(ctx: Ctx) -> tuple[gcp.serviceaccount.Account, list[pulumi.Resource]]:
    """The nodes' identity: GKE's node role; image reads are granted on the kit's registry
    repositories only (stacks/gcp/registry.py). Returns it and its project grants."""
    sa = gcp.serviceaccount.Account("node-account", account_id=google_account_id(ctx.name, "nodes"),
                                    display_name=f"lima-kit {ctx.name} nodes", opts=ctx.opts())
    grants = [gcp.projects.IAMMember(f"node-{role.rsplit('.', 1)[-1]}", project=ctx.project,
                                     role=role, member=member(sa.email), opts=ctx.opts(parent=sa))
              for role in NODE_ROLES]
    return sa, grants


def gpu_zones(ctx: Ctx, machine_type: str) -> list[str]:
    """The region's zones that offer `machine_type`; a one-line error listing the GPU machine
    types the region does offer when none has it."""
    zones = gcp.compute.get_zones(region=ctx.region, project=ctx.project, status="UP",
                                  opts=ctx.invoke()).names
    wanted = " OR ".join(f'(name = "{m}")' for m in all_machine_types())
    offered: dict[str, list[str]] = {}
    for zone in sorted(zones):
        found = gcp.compute.get_machine_types(filter=wanted, zone=zone, project=ctx.project,
                                              opts=ctx.invoke()).machine_types
        for mt in found or []:
            offered.setdefault(mt.name, []).append(zone)
    if machine_type in offered:
        return offered[machine_type]
    have = sorted({f"{o.gpu_type} x{o.gpus}" for o in CATALOG
                   if any(m in offered for m in o.machine_types)})
    raise KitError(f"gpu.type: {machine_type} is not offered in any zone of {ctx.region}",
                   hint=f"{ctx.region} has {', '.join(have) or 'no GPU machine types of the catalog'}; "
                        "change gpu.type/gpu.count or region")


def _node_config(ctx: Ctx, net: Network, sa_email: pulumi.Input[str], key_id: pulumi.Input[str],
                 machine_type: str, disk: str, disk_gb: int, labels: dict[str, str], **extra) -> dict:
    return {"machine_type": machine_type, "service_account": sa_email,
            "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "shielded_instance_config": {"enable_secure_boot": True,
                                         "enable_integrity_monitoring": True},
            "boot_disk_kms_key": key_id, "disk_type": disk, "disk_size_gb": disk_gb,
            "image_type": "COS_CONTAINERD", "metadata": {"disable-legacy-endpoints": "true"},
            "labels": dict(labels), "resource_labels": dict(ctx.labels), "tags": [net.node_tag],
            **extra}


def _reservation(name: str | None) -> dict:
    """GPU capacity from a named reservation (A3 and H200 capacity usually comes that way)."""
    if not name:
        return {}
    return {"reservation_affinity": {"consume_reservation_type": "SPECIFIC_RESERVATION",
                                     "key": "compute.googleapis.com/reservation-name",
                                     "values": [name]}}


def pools(ctx: Ctx, net: Network, gke: gcp.container.Cluster, sa: gcp.serviceaccount.Account,
          key_id: pulumi.Input[str], gpu_type: str, gpu_count: int, max_nodes: int,
          spot: bool, after: list[pulumi.Resource]) -> Pools:
    from stacks.gcp import SUPPORT

    machine = SUPPORT.gpu_offer(gpu_type, gpu_count).machine_types[0]
    zones = gpu_zones(ctx, machine)
    disk = disk_type(machine)
    managed = {"auto_repair": True, "auto_upgrade": True}
    opts = ctx.opts(parent=gke, depends_on=after)
    system = gcp.container.NodePool(
        "system", name="system", cluster=gke.id, location=ctx.region,
        autoscaling={"total_min_node_count": 1, "total_max_node_count": 3,
                     "location_policy": "BALANCED"},
        node_config=_node_config(ctx, net, sa.email, key_id, SYSTEM_MACHINES[disk], disk, 50,
                                 SYSTEM_LABEL),
        management=managed, opts=opts)
    accel, _ = accelerator(machine)
    gpu = gcp.container.NodePool(
        "gpu", name=f"gpu-{gpu_type}", cluster=gke.id, location=ctx.region, node_locations=zones,
        autoscaling={"total_min_node_count": 0, "total_max_node_count": max_nodes,
                     "location_policy": "ANY"},
        node_config=_node_config(
            ctx, net, sa.email, key_id, machine, disk, GPU_DISK_GB, GPU_LABEL, spot=spot,
            gvnic={"enabled": True},   # the A3 machine types require gVNIC
            **_reservation(ctx.gcp.reservation),
            guest_accelerators=[{"type": accel, "count": gpu_count,
                                 "gpu_driver_installation_config": {
                                     "gpu_driver_version": ctx.gcp.gpu_driver}}],
            taints=[{"key": GPU_TAINT["key"], "value": GPU_TAINT["value"],
                     "effect": _EFFECT[GPU_TAINT["effect"]]}]),
        management=managed, opts=opts)
    return Pools(system=system, gpu=gpu)
