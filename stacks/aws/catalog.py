"""The AWS GPU catalog: GPU type x GPUs per node -> EC2 instance types (several, so spot and
on-demand find capacity), with the smallest type's vCPUs and memory (quota checks, pod sizes).
Plain data: the stack, `kit doctor` and the config checks read it without the SDK."""

from __future__ import annotations

from stacks.clouds import GpuOffer

CATALOG: tuple[GpuOffer, ...] = (
    GpuOffer("l4", 1, ("g6.xlarge", "g6.2xlarge", "g6.4xlarge", "g6.8xlarge", "g6.16xlarge"), 4, 16),
    GpuOffer("l4", 4, ("g6.12xlarge", "g6.24xlarge"), 48, 192),
    GpuOffer("l4", 8, ("g6.48xlarge",), 192, 768),
    GpuOffer("a10g", 1, ("g5.xlarge", "g5.2xlarge", "g5.4xlarge", "g5.8xlarge", "g5.16xlarge"), 4, 16),
    GpuOffer("a10g", 4, ("g5.12xlarge", "g5.24xlarge"), 48, 192),
    GpuOffer("a10g", 8, ("g5.48xlarge",), 192, 768),
    GpuOffer("l40s", 1, ("g6e.xlarge", "g6e.2xlarge", "g6e.4xlarge", "g6e.8xlarge", "g6e.16xlarge"),
             4, 32),
    GpuOffer("l40s", 4, ("g6e.12xlarge", "g6e.24xlarge"), 48, 384),
    GpuOffer("l40s", 8, ("g6e.48xlarge",), 192, 1536),
    GpuOffer("a100", 8, ("p4d.24xlarge", "p4de.24xlarge"), 96, 1152, "a100-40gb"),
    GpuOffer("h100", 1, ("p5.4xlarge",), 16, 256, "h100-sxm"),
    GpuOffer("h100", 8, ("p5.48xlarge",), 192, 2048, "h100-sxm"),
    GpuOffer("h200", 8, ("p5e.48xlarge", "p5en.48xlarge"), 192, 2048),
)
