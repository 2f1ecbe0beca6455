"""Will the fine-tune fit one node of the pool: the GPU memory training needs at least, where the
LoRA merge runs (on the GPUs when the bf16 base fits there, else in host memory), the host
memory the trainer pod needs at its peak, and what the node can give a pod. `kit plan` and
`kit up` refuse a config whose run could not fit (problems), the estimate shows what is tight
(warnings), and the chart values size the pod from it (pod_memory_gib).

    GPU, training   full: 16 bytes a parameter (fp32 weights, gradients and Adam's two
                    moments), sharded over every GPU of the run (FSDP); LoRA: the bf16 base,
                    2 bytes; QLoRA: NF4 with double quantization, 4.127 bits (QLoRA paper,
                    arXiv:2305.14314 §3), both sharded over the node's GPUs when it has several.
                    A lower bound: activations come on top, so a run above it cannot fit.
    merge           the bf16 base, 2 bytes a parameter, on the node's GPUs once training has
                    released them, else in host memory.
    host, per node  each rank's process; where several GPUs share the run (FSDP) every rank
                    first loads the whole base to host memory (kit/trainer/device.py), fp32 for
                    full; one GPU alone loads straight to it. Full fine-tuning gathers the fp32
                    state dict on rank 0 to save it.
    node            its memory less the kubelet reservation GKE publishes (25% of the first
                    4 GiB, 20% of the next 4, 10% of the next 8, 6% of the next 112, 2% above,
                    plus a 100 MiB eviction threshold:
                    https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes,
                    read 2026-12-07; AKS before 1.29 reserves the same tiers; EKS reserves
                    less), less what the node's own daemons take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kit.gpus import MODELS, TYPES, GpuModel
from kit.trainer.sizes import GIB, GPU_RESERVE_GIB  # the trainer's own figures

if TYPE_CHECKING:
    from kit.config import KitConfig

BYTES_PER_PARAM = {"full": 16.0, "lora": 2.0, "qlora": 4.127 / 8}
LOAD_BYTES = {"full": 4.0, "lora": 2.0, "qlora": 2.0}    # per parameter, a rank loading to host
BF16 = 2.0
# Assumptions (not published limits), stated where they are used:
PROCESS_GIB = 3.0      # one trainer rank's own host memory: Python, torch, transformers, CUDA runtime
SHARD_GIB = 5.0        # one safetensors shard in flight while loading (the hub's usual 5 GB shards)
DAEMONS_GIB = 1.0      # node daemons outside the kubelet's reservation (device plugin, CNI, logs)
TIGHT = 0.5            # a GPU whose training floor takes more than this share of it is tight
HOST_TIGHT = 0.8       # a pod whose peak takes more than this share of what the node gives is tight
# gpu.type -> the GPU model a bare type means (kit.gpus, the one GPU table).
DEFAULT = {name: gpu_type.default_model for name, gpu_type in TYPES.items()}


def reserved_gib(memory_gib: float) -> float:
    """The kubelet's memory reservation on a node of `memory_gib` (GKE's published tiers)."""
    tiers = ((4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06), (math.inf, 0.02))
    left, reserved = memory_gib, 0.0
    for size, share in tiers:
        take = min(left, size)
        reserved += take * share
        left -= take
        if left <= 0:
            break
    return reserved + 100 / 1024


def pod_capacity_gib(memory_gib: float) -> float:
    """What a node of `memory_gib` can give one pod."""
    return memory_gib - reserved_gib(memory_gib) - DAEMONS_GIB


@dataclass(frozen=True)
class Node:
    part: str                      # its GPU model, a key of kit.gpus.MODELS
    gpus: int
    machine_type: str | None       # None: not a cloud catalog's (existing cluster, local)
    memory_gib: float | None       # None: unknown

    @property
    def gpu(self) -> GpuModel:
        return MODELS[self.part]

    @property
    def gpu_gib(self) -> float:
        return self.gpu.memory_gb * 1e9 / GIB

    @property
    def pod_gib(self) -> float | None:
        return None if self.memory_gib is None else pod_capacity_gib(self.memory_gib)

    def where(self) -> str:
        what = f"{self.gpus} x {self.gpu.name} ({self.gpu.memory_gb} GB)"
        return f"{self.machine_type}, {what}" if self.machine_type else what


@dataclass(frozen=True)
class Fit:
    node: Node
    gpu_floor_gib: float           # per GPU while training, at least
    merge_on: str | None           # "gpu", "cpu", or None (full fine-tuning: nothing to merge)
    host_gib: float                # the trainer pod's peak host memory
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def node_of(cfg: "KitConfig") -> Node:
    """The pool's node as the config asks for it (the smallest machine type of its catalog row)."""
    from kit.targets import support_for

    support = support_for(cfg.target)
    if support.gpu_catalog:
        offer = support.gpu_offer(cfg.gpu.type, cfg.gpu.count)
        return Node(offer.gpu_model or DEFAULT[cfg.gpu.type], offer.gpus, offer.machine_types[0],
                    float(offer.memory_gib))
    return Node(DEFAULT[cfg.gpu.type], cfg.gpu.count, None, None)


def assess_node(node: Node, method: str, params: float, nodes: int = 1) -> Fit:
    """The fit of a run of `params` parameters by `method` on `nodes` nodes like `node`."""
    world = nodes * node.gpus
    shards = world if method == "full" else node.gpus
    gpu_floor = params * BYTES_PER_PARAM[method] / shards / GIB
    usable = node.gpu_gib - GPU_RESERVE_GIB
    bf16_gib = params * BF16 / GIB
    process = node.gpus * PROCESS_GIB
    if world > 1:     # FSDP: every rank loads the whole base to host memory first
        load = node.gpus * params * LOAD_BYTES[method] / GIB
    else:
        load = params * LOAD_BYTES[method] / GIB if method == "full" else min(SHARD_GIB, bf16_gib)
    merge_on: str | None = None
    after = 0.0
    if method == "full":
        after = params * 4.0 / GIB       # the fp32 state dict gathered on rank 0 to save it
    elif bf16_gib <= usable * node.gpus:
        merge_on, after = "gpu", min(2.0, bf16_gib)   # the merged model leaves a 2 GB shard at a time
    else:
        merge_on, after = "cpu", bf16_gib
    host = process + max(load, after)

    problems, warnings = [], []
    size = f"{params / 1e9:.3g}B parameters"
    if gpu_floor > usable:
        problems.append(f"gpu: {method} of {size} needs at least {gpu_floor:.1f} GiB on each GPU "
                        f"({_floor_why(method, shards)}); {node.where()} has {usable:.1f} GiB usable: "
                        f"{_bigger(method)}")
    pod = node.pod_gib
    if pod is not None and host > pod:
        merge = ", merging the bf16 model in host memory" if merge_on == "cpu" else ""
        problems.append(f"gpu: {method} of {size} needs {host:.0f} GiB of host memory{merge}; "
                        f"{node.machine_type} ({node.memory_gib:.0f} GiB) can give a pod {pod:.1f} GiB: "
                        "a gpu.type or gpu.count whose machine has more memory")
    host_line = "" if pod is None else (f"{host:.1f} of the {pod:.1f} GiB of host memory {node.machine_type} "
                                        f"({node.memory_gib:.0f} GiB) can give a pod")
    merge_line = {"gpu": "; the merge runs on the GPU", "cpu": "; the merge runs in host memory", None: ""}[merge_on]
    if not problems and gpu_floor > TIGHT * usable:
        warnings.append(f"tight: {method} of {size} takes {gpu_floor:.1f} of the {usable:.1f} GiB usable on each "
                        f"GPU ({node.where()}) before activations" + (f", and {host_line}" if host_line else "")
                        + merge_line + "; long sequences may run out of GPU memory")
    elif not problems and pod is not None and host > HOST_TIGHT * pod:
        warnings.append(f"tight: {method} of {size} needs {host_line}{merge_line}")
    return Fit(node, round(gpu_floor, 2), merge_on, round(host, 2), problems, warnings)


def _bigger(method: str) -> str:
    more = "a GPU type with more memory, or more GPUs per node (gpu.count)"
    return {"full": f"{more} or nodes (gpu.max_nodes), or training.method lora/qlora",
            "lora": f"{more}, or training.method qlora", "qlora": more}[method]


def _floor_why(method: str, shards: int) -> str:
    what = {"full": "fp32 weights, gradients and Adam state, 16 bytes a parameter",
            "lora": "the bf16 base, 2 bytes a parameter", "qlora": "the 4-bit base"}[method]
    return what + (f", over {shards} GPUs" if shards > 1 else "")


def training_nodes(cfg: "KitConfig") -> int:
    """LoRA and QLoRA fit one node; full fine-tuning spreads over the whole GPU pool (FSDP)."""
    return cfg.gpu.max_nodes if cfg.training.method == "full" else 1


def assess(cfg: "KitConfig") -> Fit:
    from kit.estimate.throughput import model_params
    from kit.targets import support_for

    params, _ = model_params(cfg.model.id, cfg.resolve_path(cfg.model.id))
    nodes = training_nodes(cfg) if support_for(cfg.target).gpu_pool else 1
    return assess_node(node_of(cfg), cfg.training.method, params, nodes)


def problems(cfg: "KitConfig") -> list[str]:
    """Why this config's fine-tune cannot fit its GPU pool, one line each ([] = it fits):
    `kit plan` lists them as blockers and `kit up` refuses while any stands. A local run has no
    pool (its gpu.type only names the part an estimate assumes): nothing to refuse."""
    from kit.errors import KitError
    from kit.targets import support_for

    if not support_for(cfg.target).gpu_pool:
        return []
    try:
        return assess(cfg).problems
    except KitError as exc:
        return [exc.message]


def pod_memory_gib(cfg: "KitConfig") -> int:
    """The trainer pod's memory request and limit: what the run needs at its peak (at least the
    per-GPU default), never more than the node can give a pod."""
    fit = assess(cfg)
    default = TYPES[cfg.gpu.type].pod_memory_gib * cfg.gpu.count
    want = max(math.ceil(fit.host_gib), default)
    cap = fit.node.pod_gib
    return want if cap is None else min(want, math.floor(cap))


def server_memory_gib(cfg: "KitConfig") -> int:
    """The server pod's memory: the per-GPU default, never more than the node can give a pod
    (the engines load the weights to the GPUs)."""
    default = TYPES[cfg.gpu.type].pod_memory_gib * cfg.gpu.count
    cap = node_of(cfg).pod_gib
    return default if cap is None else min(default, math.floor(cap))
