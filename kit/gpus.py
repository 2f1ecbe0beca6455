"""The GPU table: every gpu.type the kit knows, the GPU models behind them, and what a pod on
one asks for. The one home of these facts; kit.yaml's allowed gpu.type values, the fit and
throughput estimates and the chart values all derive from it. A leaf module: it imports
nothing of the kit's, so the config and the estimate can both read it.

A cloud's catalog names the model its machine types carry (GpuOffer.gpu_model: an Azure NC H100
v5 has an H100 NVL, not the SXM part of a p5 or an a3); a bare gpu.type (local machines,
existing clusters) means its default model below.

Peaks and memory are from NVIDIA's datasheets (read 2026-12-07). Datasheets list tensor
throughput "with sparsity"; the dense figure is half of it.
  L4      https://www.nvidia.com/en-us/data-center/l4/         BF16 242 TFLOPS sparse, 24 GB
  A10     https://www.nvidia.com/en-us/data-center/products/a10-gpu/  BF16 250 sparse, 24 GB
          (AWS's A10G has no public datasheet; its A10 sibling stands in)
  L40S    https://www.nvidia.com/en-us/data-center/l40s/       BF16 733 sparse, 48 GB
  A100    https://www.nvidia.com/en-us/data-center/a100/       BF16 624 sparse, 40 or 80 GB
  H100    https://www.nvidia.com/en-us/data-center/h100/       SXM: BF16 1,979 sparse, 80 GB;
                                                               NVL: BF16 1,671 sparse, 94 GB
  H200    https://www.nvidia.com/en-us/data-center/h200/       SXM: BF16 1,979 sparse, 141 GB

The pod sizes are the kit's own choices, not published limits: CPUs per GPU a pod asks for (a
1-GPU L4 node has 4 vCPUs, so 3 leaves the node's daemons one), and the host memory per GPU a
trainer pod asks for where the node's memory is unknown (an existing cluster, a local machine;
kit.estimate.fit sizes it from the node's real memory where a catalog knows the machine type).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuModel:
    name: str
    bf16_tflops: float      # dense
    memory_gb: int          # as the datasheet gives it (GB, 10^9 bytes)
    source: str


@dataclass(frozen=True)
class GpuType:
    """One value of kit.yaml's gpu.type."""

    default_model: str      # the model a bare type means (a key of MODELS): the smaller memory
    cpus: int               # CPUs a pod asks for per GPU
    pod_memory_gib: int     # host memory a trainer pod asks for per GPU, node memory unknown


MODELS: dict[str, GpuModel] = {
    "l4": GpuModel("NVIDIA L4", 121.0, 24, "NVIDIA L4 datasheet: 242 TFLOPS BF16 with sparsity, 121 dense"),
    "a10g": GpuModel("NVIDIA A10G", 125.0, 24,
                     "NVIDIA A10 datasheet (the A10G's public sibling): 250 TFLOPS BF16 with sparsity, 125 dense"),
    "l40s": GpuModel("NVIDIA L40S", 362.0, 48, "NVIDIA L40S datasheet: 733 TFLOPS BF16 with sparsity, 362 dense"),
    "a100-40gb": GpuModel("NVIDIA A100 40GB", 312.0, 40,
                          "NVIDIA A100 datasheet: 624 TFLOPS BF16 with sparsity, 312 dense"),
    "a100-80gb": GpuModel("NVIDIA A100 80GB", 312.0, 80,
                          "NVIDIA A100 datasheet: 624 TFLOPS BF16 with sparsity, 312 dense"),
    "h100-sxm": GpuModel("NVIDIA H100 SXM", 989.5, 80,
                         "NVIDIA H100 datasheet, SXM: 1,979 TFLOPS BF16 with sparsity, 989.5 dense"),
    "h100-nvl": GpuModel("NVIDIA H100 NVL", 835.5, 94,
                         "NVIDIA H100 datasheet, NVL: 1,671 TFLOPS BF16 with sparsity, 835.5 dense"),
    "h200": GpuModel("NVIDIA H200", 989.5, 141,
                     "NVIDIA H200 datasheet, SXM: 1,979 TFLOPS BF16 with sparsity, 989.5 dense"),
}

# gpu.type -> its facts. The first is kit.yaml's default.
TYPES: dict[str, GpuType] = {
    "l4": GpuType("l4", cpus=3, pod_memory_gib=12),
    "a10g": GpuType("a10g", cpus=3, pod_memory_gib=12),
    "l40s": GpuType("l40s", cpus=6, pod_memory_gib=48),
    "a100": GpuType("a100-40gb", cpus=10, pod_memory_gib=96),
    "h100": GpuType("h100-sxm", cpus=20, pod_memory_gib=180),
    "h200": GpuType("h200", cpus=20, pod_memory_gib=180),
}
GPU_TYPES: tuple[str, ...] = tuple(TYPES)


def model(gpu_type: str, gpu_model: str = "") -> GpuModel:
    """The GPU model a catalog row names, else the one its bare type means."""
    return MODELS[gpu_model or TYPES[gpu_type].default_model]
