"""How fast a fine-tune runs: training tokens per second per GPU, by GPU type, model size and
method, each figure with where it comes from.

The model is the usual one: a training token costs about 6·N FLOPs for full fine-tuning
(forward 2N, backward 4N), about 4·N for LoRA and QLoRA (no weight gradients for the frozen
base), so tokens/s = peak dense BF16 FLOP/s × MFU / (k·N). Peaks are the vendors' datasheet
figures per part (kit.gpus: an H100 NVL is not an H100 SXM); the MFU figures are
stated assumptions (QLoRA pays for dequantisation). A finished run of the same model, GPU
and method replaces the model with its measured figure (learned.json).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from kit.trainer.sizes import safetensors_params

# Model FLOP utilisation assumed per method, and FLOPs per token in units of N (parameters).
MFU = {"full": 0.40, "lora": 0.35, "qlora": 0.25}
FLOPS_PER_TOKEN = {"full": 6.0, "lora": 4.0, "qlora": 4.0}
# Each doubling of the GPUs a run spans keeps this share of the added throughput (FSDP/DDP).
SCALING = 0.9
DEMO_PARAMS = {"demo:tiny-llama": 4.8e6, "demo:smollm2-135m": 134.5e6}
SIZE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.I)


@dataclass(frozen=True)
class Rate:
    tokens_per_s_per_gpu: float
    source: str


def model_params(model_id: str, folder: Path | None = None) -> tuple[float, str]:
    """(parameters, how known): counted from a local model's safetensors header, read from
    its name (8B, 0.5B, 135M), else an 8B assumption."""
    if model_id in DEMO_PARAMS:
        return DEMO_PARAMS[model_id], "the demo model's size"
    if folder is not None and folder.is_dir():
        counted = safetensors_params(folder)
        if counted:
            return counted, f"counted in {folder}"
    found = SIZE.findall(model_id.rsplit("/", 1)[-1])
    if found:
        value, unit = found[-1]
        return float(value) * (1e9 if unit.lower() == "b" else 1e6), f"from the name {model_id}"
    return 8e9, f"assumed 8B parameters (the size of {model_id} is not in its name)"


def modelled(gpu_type: str, method: str, params: float, gpu_model: str = "") -> Rate:
    """The modelled rate on one GPU of `gpu_model` (kit.gpus: the datasheet's dense
    BF16 peak of the part the machine type carries), else of the type's usual part."""
    from kit.gpus import model

    part = model(gpu_type, gpu_model)
    peak, datasheet = part.bf16_tflops, part.source
    rate = peak * 1e12 * MFU[method] / (FLOPS_PER_TOKEN[method] * params)
    return Rate(rate, f"{datasheet}; assumed MFU {MFU[method]:.0%} for {method}, "
                      f"{FLOPS_PER_TOKEN[method]:g}·N FLOPs a token")


def scaled(rate_per_gpu: float, gpus: int) -> tuple[float, float]:
    """(tokens/s of the whole run, parallel efficiency) for `gpus` GPUs."""
    import math

    efficiency = SCALING ** math.log2(gpus) if gpus > 1 else 1.0
    return rate_per_gpu * gpus * efficiency, efficiency


def key(model_id: str, gpu_type: str, method: str) -> str:
    return f"{model_id}|{gpu_type}|{method}"


def learned(path: Path, model_id: str, gpu_type: str, method: str) -> Rate | None:
    """The measured rate of the last finished run of the same model, GPU and method."""
    try:
        entry = json.loads(path.read_text()).get(key(model_id, gpu_type, method))
    except (FileNotFoundError, ValueError):
        return None
    if not entry:
        return None
    return Rate(float(entry["tokens_per_s_per_gpu"]),
                f"measured by run {entry['run_id']} ({entry['tokens_per_s_per_gpu']:,.0f} tokens/s per GPU)")


def learn(path: Path, model_id: str, gpu_type: str, method: str, run_id: str,
          tokens_per_s: float, gpus: int) -> None:
    """Record a finished run's measured throughput (per GPU) for the next estimate."""
    from kit.jsonio import read_json, write_json

    data = read_json(path, default={})
    data[key(model_id, gpu_type, method)] = {"run_id": run_id,
                                              "tokens_per_s_per_gpu": round(tokens_per_s / max(gpus, 1), 1)}
    write_json(path, data)
