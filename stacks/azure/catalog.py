"""The Azure GPU catalog: GPU type x GPUs per node -> VM sizes (smallest first), with the
smallest size's vCPUs and memory (quota checks, pod sizes). Plain data: the stack, `kit doctor`
and the config checks read it without the SDK.

Azure has no L4, A10G or L40S VM sizes (its A10 sizes are fractional NVads); a100, h100 and
h200 map to the NC A100 v4, NC/ND H100 v5 and ND H200 v5 series.
"""

from __future__ import annotations

from stacks.clouds import GpuOffer

CATALOG: tuple[GpuOffer, ...] = (
    GpuOffer("a100", 1, ("Standard_NC24ads_A100_v4",), 24, 220, "a100-80gb"),
    GpuOffer("a100", 2, ("Standard_NC48ads_A100_v4",), 48, 440, "a100-80gb"),
    GpuOffer("a100", 4, ("Standard_NC96ads_A100_v4",), 96, 880, "a100-80gb"),
    GpuOffer("a100", 8, ("Standard_ND96asr_v4", "Standard_ND96amsr_A100_v4"), 96, 900, "a100-40gb"),
    GpuOffer("h100", 1, ("Standard_NC40ads_H100_v5",), 40, 320, "h100-nvl"),
    GpuOffer("h100", 2, ("Standard_NC80adis_H100_v5",), 80, 640, "h100-nvl"),
    GpuOffer("h100", 8, ("Standard_ND96isr_H100_v5",), 96, 1900, "h100-sxm"),
    GpuOffer("h200", 8, ("Standard_ND96isr_H200_v5",), 96, 1850),
)

# VM size -> the Compute usage (quota) family its vCPUs count against in a region.
QUOTA_FAMILY = {
    "Standard_NC24ads_A100_v4": "StandardNCADSA100v4Family",
    "Standard_NC48ads_A100_v4": "StandardNCADSA100v4Family",
    "Standard_NC96ads_A100_v4": "StandardNCADSA100v4Family",
    "Standard_ND96asr_v4": "standardNDASv4_A100Family",
    "Standard_ND96amsr_A100_v4": "standardNDAMSv4_A100Family",
    "Standard_NC40ads_H100_v5": "standardNCadsH100v5Family",
    "Standard_NC80adis_H100_v5": "standardNCadsH100v5Family",
    "Standard_ND96isr_H100_v5": "standardNDSH100v5Family",
    "Standard_ND96isr_H200_v5": "standardNDSH200v5Family",
}
# Spot VMs of every family count against one regional quota.
SPOT_FAMILY = "lowPriorityCores"
