"""The GCP GPU catalog: GPU type x GPUs per node -> Compute Engine machine types (the
accelerator-optimized families come with their GPUs attached: g2, a2, a3), with the smallest
type's vCPUs and memory, and the accelerator each attaches. Plain data: the stack, `kit doctor`
and the config checks read it without the SDK. GCP has no A10G or L40S."""

from __future__ import annotations

from stacks.clouds import GpuOffer

CATALOG: tuple[GpuOffer, ...] = (
    GpuOffer("l4", 1, ("g2-standard-4", "g2-standard-8", "g2-standard-12", "g2-standard-16",
                       "g2-standard-32"), 4, 16),
    GpuOffer("l4", 2, ("g2-standard-24",), 24, 96),
    GpuOffer("l4", 4, ("g2-standard-48",), 48, 192),
    GpuOffer("l4", 8, ("g2-standard-96",), 96, 384),
    GpuOffer("a100", 1, ("a2-highgpu-1g",), 12, 85, "a100-40gb"),
    GpuOffer("a100", 2, ("a2-highgpu-2g",), 24, 170, "a100-40gb"),
    GpuOffer("a100", 4, ("a2-highgpu-4g",), 48, 340, "a100-40gb"),
    GpuOffer("a100", 8, ("a2-highgpu-8g", "a2-ultragpu-8g"), 96, 680, "a100-40gb"),
    GpuOffer("h100", 8, ("a3-highgpu-8g", "a3-megagpu-8g"), 208, 1872, "h100-sxm"),
    GpuOffer("h200", 8, ("a3-ultragpu-8g",), 224, 2952),
)

# Machine family -> the accelerator type GKE attaches (guest_accelerators) and the regional
# quota metric it counts against (on-demand; spot: PREEMPTIBLE_ in front).
ACCELERATORS = {
    "g2": ("nvidia-l4", "NVIDIA_L4_GPUS"),
    "a2-highgpu": ("nvidia-tesla-a100", "NVIDIA_A100_GPUS"),
    "a2-ultragpu": ("nvidia-a100-80gb", "NVIDIA_A100_80GB_GPUS"),
    "a3-highgpu": ("nvidia-h100-80gb", "NVIDIA_H100_GPUS"),
    "a3-megagpu": ("nvidia-h100-mega-80gb", "NVIDIA_H100_MEGA_GPUS"),
    "a3-ultragpu": ("nvidia-h200-141gb", "NVIDIA_H200_GPUS"),
}


# Families that take Hyperdisk only (no Persistent Disk): their boot disks and the model volumes
# restored onto them are hyperdisk-balanced, and the system pool that stages those volumes is a
# machine series that attaches both.
HYPERDISK_ONLY = ("a3-ultragpu",)
SYSTEM_MACHINES = {"pd-balanced": "e2-standard-4", "hyperdisk-balanced": "c3-standard-4"}


def family(machine_type: str) -> str:
    return "g2" if machine_type.startswith("g2-") else machine_type.rsplit("-", 1)[0]


def accelerator(machine_type: str) -> tuple[str, str]:
    """(accelerator type, quota metric) of an accelerator-optimized machine type."""
    return ACCELERATORS[family(machine_type)]


def disk_type(machine_type: str) -> str:
    """The balanced block storage `machine_type` can boot from and attach."""
    return "hyperdisk-balanced" if family(machine_type) in HYPERDISK_ONLY else "pd-balanced"


def all_machine_types() -> list[str]:
    return sorted({m for offer in CATALOG for m in offer.machine_types})
