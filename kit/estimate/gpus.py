"""What each GPU model brings to an estimate: its dense BF16 tensor peak and its memory, from
NVIDIA's datasheets (read 2026-12-07). A cloud's catalog names the model its machine types
carry (GpuOffer.gpu_model: an Azure NC H100 v5 has an H100 NVL, not the SXM part of a p5 or an
a3); a bare gpu.type (local machines, existing clusters) means its first model below.

Datasheets list tensor throughput "with sparsity"; the dense figure is half of it.
  L4      https://www.nvidia.com/en-us/data-center/l4/         BF16 242 TFLOPS sparse, 24 GB
  A10     https://www.nvidia.com/en-us/data-center/products/a10-gpu/  BF16 250 sparse, 24 GB
          (AWS's A10G has no public datasheet; its A10 sibling stands in)
  L40S    https://www.nvidia.com/en-us/data-center/l40s/       BF16 733 sparse, 48 GB
  A100    https://www.nvidia.com/en-us/data-center/a100/       BF16 624 sparse, 40 or 80 GB
  H100    https://www.nvidia.com/en-us/data-center/h100/       SXM: BF16 1,979 sparse, 80 GB;
                                                               NVL: BF16 1,671 sparse, 94 GB
  H200    https://www.nvidia.com/en-us/data-center/h200/       SXM: BF16 1,979 sparse, 141 GB
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuModel:
    name: str
    bf16_tflops: float      # dense
    memory_gb: int          # as the datasheet gives it (GB, 10^9 bytes)
    source: str


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
# gpu.type -> the model a bare type means (the smaller memory where a type comes in two).
DEFAULT: dict[str, str] = {"l4": "l4", "a10g": "a10g", "l40s": "l40s", "a100": "a100-40gb",
                           "h100": "h100-sxm", "h200": "h200"}


def model(gpu_type: str, gpu_model: str = "") -> GpuModel:
    """The GPU model a catalog row names, else the one its bare type means."""
    return MODELS[gpu_model or DEFAULT[gpu_type]]
