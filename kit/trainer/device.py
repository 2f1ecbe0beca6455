"""Where the run executes: device, precision, attention kernel, and the distributed layout.

Multi-GPU and multi-node runs are launched by torchrun or accelerate (or one process per pod of
a Kubernetes Indexed Job), which set WORLD_SIZE / RANK / LOCAL_RANK / MASTER_ADDR / MASTER_PORT;
the Trainer (through accelerate) joins the process group from them. Several CUDA processes
train with FSDP2 (full shard, per decoder layer, sharded checkpoints).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Any


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def normalise_env() -> None:
    """An Indexed Job running one process per pod has JOB_COMPLETION_INDEX but no RANK: use it."""
    if _env_int("WORLD_SIZE", 1) > 1 and "RANK" not in os.environ and "JOB_COMPLETION_INDEX" in os.environ:
        os.environ["RANK"] = os.environ["JOB_COMPLETION_INDEX"]
        os.environ.setdefault("LOCAL_RANK", "0")
        os.environ.setdefault("LOCAL_WORLD_SIZE", "1")
    if _env_int("WORLD_SIZE", 1) > 1:
        os.environ.setdefault("MASTER_PORT", "29500")


def is_main_process() -> bool:
    """Rank 0 writes events, metrics and artifacts; known before the process group exists."""
    return _env_int("RANK", 0) == 0


@dataclass(frozen=True)
class DevicePlan:
    device: str                 # "cuda" or "cpu"
    name: str                   # for the start event, e.g. "cuda:NVIDIA H100 80GB HBM3 x8"
    bf16: bool
    fp16: bool
    attn_implementation: str    # "flash_attention_2" where installed on CUDA, else "sdpa"
    world_size: int
    rank: int
    local_rank: int             # the GPU index on this node
    fsdp: bool
    gradient_checkpointing: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def fsdp_config(self) -> dict[str, Any]:
        """FSDP2: shard each decoder layer (the model's _no_split_modules), sharded checkpoints
        for fast save/resume, FSDP's own activation checkpointing (the Trainer's would all-gather
        twice). Every rank loads the weights to host memory before sharding: transformers'
        rank-0-only loading covers FSDP1 only, and a wrong guess there trains empty weights."""
        return {
            "version": 2,
            "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "state_dict_type": "SHARDED_STATE_DICT",
            "cpu_ram_efficient_loading": False,
            "reshard_after_forward": True,
            "activation_checkpointing": True,
        }


def detect() -> DevicePlan:
    import torch

    normalise_env()
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local = _env_int("LOCAL_RANK", 0)
    if torch.cuda.is_available():
        bf16 = torch.cuda.is_bf16_supported()
        flash = importlib.util.find_spec("flash_attn") is not None
        visible = torch.cuda.device_count()
        name = f"cuda:{torch.cuda.get_device_name(0)} x{visible}"
        if world > 1:
            name += f" (world {world})"
        return DevicePlan("cuda", name, bf16, not bf16, "flash_attention_2" if flash else "sdpa",
                          world, rank, local, fsdp=world > 1, gradient_checkpointing=True)
    name = f"cpu x{os.cpu_count()}" + (f" (world {world})" if world > 1 else "")
    return DevicePlan("cpu", name, False, False, "sdpa", world, rank, local, fsdp=False,
                      gradient_checkpointing=False)


def supports_packing(model_class: type) -> bool:
    """Padding-free packing needs attention that honours per-sequence position_ids: the
    flash-attention varlen path or transformers' packed-sequence masks for sdpa."""
    return bool(getattr(model_class, "_supports_flash_attn", False) or getattr(model_class, "_supports_sdpa", False))
