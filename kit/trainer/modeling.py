"""Loading the base model for a method: full (fp32 master weights), LoRA, QLoRA (4-bit NF4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kit.errors import KitError
from kit.trainer.device import DevicePlan


def compute_dtype(device: DevicePlan) -> Any:
    import torch

    return torch.bfloat16 if device.bf16 else torch.float16 if device.fp16 else torch.float32


def load_tokenizer(base_model: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(base_model)
    except (OSError, ValueError) as exc:
        raise KitError(f"{base_model}: cannot load the tokenizer: {str(exc).splitlines()[0]}",
                       hint="the model folder needs tokenizer files (tokenizer.json or equivalent)") from None


def load_model(base_model: Path, settings: dict[str, Any], device: DevicePlan) -> Any:
    """The model the Trainer wraps. Full fine-tuning keeps fp32 master weights (bf16 autocast:
    LIMA's lr 1e-5 updates vanish in bf16 weights); LoRA freezes the base in the compute dtype;
    QLoRA quantizes it to 4-bit NF4 with bitsandbytes (CUDA only)."""
    import torch
    from transformers import AutoModelForCausalLM

    method = settings["method"]
    kwargs: dict[str, Any] = {"attn_implementation": device.attn_implementation}
    if method == "full":
        kwargs["dtype"] = torch.float32
    elif method == "lora":
        kwargs["dtype"] = compute_dtype(device)
        if device.device == "cuda" and not device.fsdp:  # straight to the GPU: no host copy of the base
            kwargs["device_map"] = {"": device.local_rank}
    else:
        if device.device != "cuda":
            raise KitError("training.method: qlora needs a CUDA GPU (bitsandbytes 4-bit kernels)",
                           hint="use method lora or full on this machine")
        from kit.errors import require

        require("bitsandbytes", "qlora")
        from transformers import BitsAndBytesConfig

        quant = settings["quantization"]
        dtype = getattr(torch, quant["compute_dtype"])
        kwargs["dtype"] = dtype
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=quant["type"],
            bnb_4bit_use_double_quant=quant["double_quant"],
            bnb_4bit_compute_dtype=dtype,
            bnb_4bit_quant_storage=dtype,  # FSDP shards uniform-dtype storage
        )
        if not device.fsdp:  # bitsandbytes quantizes while placing the weights on this GPU
            kwargs["device_map"] = {"": device.local_rank}
    try:
        model = AutoModelForCausalLM.from_pretrained(base_model, **kwargs)
    except (OSError, ValueError) as exc:
        raise KitError(f"{base_model}: cannot load the model: {str(exc).splitlines()[0]}",
                       hint="check that the folder holds a causal LM (config.json + safetensors weights)") from None
    if method == "qlora" and not device.fsdp:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=device.gradient_checkpointing)
    return model


def lora_config(settings: dict[str, Any]) -> Any:
    if settings["method"] == "full":
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=settings["lora_r"],
        lora_alpha=settings["lora_alpha"],
        lora_dropout=settings["lora_dropout"],
        target_modules=settings["lora_target_modules"],
        bias="none",
        task_type="CAUSAL_LM",
    )
