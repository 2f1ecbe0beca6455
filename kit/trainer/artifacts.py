"""Final artifacts of a run: model/ (merged safetensors + tokenizer + generation config),
adapter/ (LoRA/QLoRA), summary.json (written last, atomically: its presence means success),
and the upload of the run folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kit.errors import KitError
from kit.layout.buckets import MERGED_SUBDIR
from kit.trainer.sizes import SAVE_SHARD


def _sync(uri: str):
    try:
        from kit.data.sync import sync
    except ImportError as exc:
        raise KitError(f"upload_uri {uri}: kit.data.sync is not available in this install ({exc})",
                       hint="install lima-kit with the storage extra in the trainer image") from None
    return sync


def check_upload(uri: str | None) -> None:
    """Fail before training, not after, when an upload could never happen."""
    if uri:
        _sync(uri)


def upload(output: Path, uri: str) -> None:
    """Publish the run folder to its bucket URI with the kit's storage layer, create-only
    (kit.data.published: the trainer may not overwrite or delete). The merged model first, as
    a set of its own under model/ (the server stages that prefix and trusts only its manifest),
    then the whole run; the run's manifest, written last, is what makes the upload visible."""
    sync = _sync(uri)
    model = output / MERGED_SUBDIR
    if model.is_dir() and any(model.iterdir()):
        sync(str(model), f"{uri.rstrip('/')}/{MERGED_SUBDIR}/", kind="model")
    sync(str(output), uri)


def write_tokenizer(tokenizer: Any, folder: Path, template: str) -> None:
    """Save the tokenizer carrying exactly `template`, both as chat_template.jinja (transformers)
    and inside tokenizer_config.json (TGI reads only that)."""
    tokenizer.chat_template = template
    tokenizer.save_pretrained(folder)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["chat_template"] = template
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _generation_config(model_dir: Path, tokenizer: Any) -> None:
    """Make generation stop on the template's end-of-turn token and pad with the tokenizer's pad."""
    from transformers import GenerationConfig

    try:
        gen = GenerationConfig.from_pretrained(model_dir)
    except OSError:
        gen = GenerationConfig()
    eos = gen.eos_token_id
    eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in eos:
        eos.insert(0, tokenizer.eos_token_id)
    gen.eos_token_id = eos[0] if len(eos) == 1 else eos
    if tokenizer.pad_token_id is not None:
        gen.pad_token_id = tokenizer.pad_token_id
    gen.save_pretrained(model_dir)


def _base_dtype(base_model: Path) -> Any:
    import torch

    config = json.loads((base_model / "config.json").read_text(encoding="utf-8"))
    name = config.get("dtype") or config.get("torch_dtype") or "float32"
    return getattr(torch, str(name).replace("torch.", ""), torch.float32)


def weights_bytes(base_model: Path, dtype: Any) -> int:
    """Bytes of the base's weights in `dtype`, from the safetensors headers (no weights read)."""
    from kit.trainer.sizes import safetensors_params

    params = safetensors_params(base_model)
    return int(params * dtype.itemsize) if params else sum(
        p.stat().st_size for p in base_model.glob("*.bin"))


def free_gpu_bytes() -> list[int]:
    """Free memory of each visible GPU ([] without CUDA)."""
    import torch

    if not torch.cuda.is_available():
        return []
    return [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]


def free_host_bytes() -> int | None:
    """Host memory this process may still take: the container's cgroup limit less its usage
    where one is set (a pod's memory limit), else the kernel's MemAvailable."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            return int(limit) - used
    except (OSError, ValueError):
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def merge_placement(needed: int, gpus_free: list[int], host_free: int | None) -> dict[str, Any]:
    """from_pretrained's placement of the bf16 base for the merge: spread over the GPUs when
    it fits in their free memory (less GPU_RESERVE_GIB each for the CUDA context and the merge's
    own work), else host memory, or a one-line error when neither holds it."""
    from kit.trainer.sizes import GIB, GPU_RESERVE_GIB

    reserve = int(GPU_RESERVE_GIB * GIB)
    room = {i: free - reserve for i, free in enumerate(gpus_free) if free > reserve}
    if room and needed <= sum(room.values()):
        return {"device_map": "auto", "max_memory": {i: int(b) for i, b in room.items()}}
    if host_free is None or needed <= host_free:
        return {}
    raise KitError(f"merge: the base needs {needed / GIB:.1f} GiB; the GPUs have "
                   f"{sum(room.values()) / GIB:.1f} GiB free and this pod {host_free / GIB:.1f} GiB",
                   hint="the adapter is saved in adapter/; `kit plan` shows the pod size a run needs "
                        "(a larger gpu node, or qlora/lora on a bigger GPU)")


def release_training_memory(trainer: Any) -> None:
    """Drop the Trainer's model and optimizer (the adapter is saved) so their GPU memory is free."""
    import gc

    import torch

    # The callback handler keeps its own references to the model, optimizer and scheduler.
    for holder in (trainer, getattr(trainer, "callback_handler", None)):
        for attr in ("model", "model_wrapped", "optimizer", "lr_scheduler"):
            if getattr(holder, attr, None) is not None:
                setattr(holder, attr, None)
    trainer.accelerator.free_memory()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def save_final(trainer: Any, tokenizer: Any, serving_template: str, base_model: Path, output: Path,
               method: str, is_main: bool, fsdp: bool) -> None:
    """Gather and write the final weights (every rank joins; rank 0 writes)."""
    import torch
    from transformers import AutoModelForCausalLM

    if fsdp:  # gather one full state dict on rank 0 instead of per-rank shards
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    model_dir = output / MERGED_SUBDIR
    dtype = _base_dtype(base_model)
    if method == "full":
        trainer.save_model(str(model_dir))
        if is_main and dtype != torch.float32:  # fp32 master weights back to the base's dtype
            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
            model.save_pretrained(model_dir, max_shard_size=SAVE_SHARD)
    else:
        adapter_dir = output / "adapter"
        trainer.save_model(str(adapter_dir))
        if is_main:
            write_tokenizer(tokenizer, adapter_dir, serving_template)
        release_training_memory(trainer)   # every rank: the merge may use all of the node's GPUs
        if is_main:
            from peft import PeftModel

            # Merge into the unquantized base (QLoRA too): a merged 4-bit model loses precision.
            # On the GPUs when the base fits there, else in host memory (kit.estimate.fit sized
            # the pod for whichever it plans); written in small shards either way.
            placement = merge_placement(weights_bytes(base_model, dtype), free_gpu_bytes(), free_host_bytes())
            base = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype, **placement)
            merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
            merged.config.eos_token_id = tokenizer.eos_token_id
            if tokenizer.pad_token_id is not None:
                merged.config.pad_token_id = tokenizer.pad_token_id
            merged.save_pretrained(model_dir, max_shard_size=SAVE_SHARD)
    if is_main:
        for leftover in ("training_args.bin",):
            (model_dir / leftover).unlink(missing_ok=True)
        write_tokenizer(tokenizer, model_dir, serving_template)
        _generation_config(model_dir, tokenizer)


def summarize(metrics_path: Path, epochs: float) -> dict[str, Any]:
    """The summary metrics, from metrics.jsonl (which survives resumes)."""
    train, evals = [], []
    for line in metrics_path.read_text(encoding="utf-8").splitlines() if metrics_path.is_file() else []:
        record = json.loads(line)
        (evals if record.get("kind") == "eval" else train).append(record)
    tokens = sum(r.get("tokens") or 0 for r in train)
    runtime = sum(r.get("step_s") or 0.0 for r in train)
    return {
        "loss_first": train[0]["loss"] if train else None,
        "loss_last": train[-1]["loss"] if train else None,
        "eval_loss": evals[-1]["eval_loss"] if evals else None,
        "steps": train[-1]["step"] if train else 0,
        "epochs": epochs,
        "train_tokens": tokens,
        "runtime_s": round(runtime, 3),
        "tokens_per_s": round(tokens / runtime, 1) if runtime > 0 else None,
    }


def write_summary(output: Path, summary: dict[str, Any]) -> Path:
    """Atomically: a reader sees no summary or a whole one."""
    path = output / "summary.json"
    tmp = output / ".summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
