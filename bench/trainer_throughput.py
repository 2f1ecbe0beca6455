"""Trainer throughput: tokens/s and MFU of the kit's training path for a model shape.

Runs the same SFTConfig the trainer builds (kit.trainer.run.sft_config: precision, attention
kernel, packing, LoRA settings from the recipe) on random weights and random token sequences, so
no weights or data are needed. Default: an 8B Llama shape, LoRA, bf16, padding-free packing, on
a GPU. `--shape tiny` runs on CPU in seconds.

    python bench/trainer_throughput.py                 # 8B Llama shape, LoRA (GPU)
    python bench/trainer_throughput.py --shape tiny    # CPU smoke run
    python bench/trainer_throughput.py --method full --shape 1b

MFU = achieved model FLOP/s / peak FLOP/s. Model FLOPs per token: 6N for full fine-tuning and 4N
for LoRA (no weight gradients for the frozen base), N the non-embedding weights + the LM head,
plus causal attention 6*L*d*len over each packed document; recomputation by activation
checkpointing is not counted (after PaLM, Chowdhery et al. 2022, app. B). Peak: the dense bf16 tensor
figure from the vendor's data sheet for known GPUs, else a measured matmul peak (--peak-tflops
overrides).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHAPES = {  # Llama 3.x shapes (hidden, layers, heads, kv heads, intermediate, vocab)
    "8b": (4096, 32, 32, 8, 14336, 128256),
    "1b": (2048, 16, 32, 8, 8192, 128256),
    "tiny": (256, 4, 4, 4, 688, 2048),
}
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 70.0, "L4": 121.0}


def _peak(device_name: str, dtype) -> tuple[float, str]:
    for key, tflops in PEAK_BF16_TFLOPS.items():
        if key in device_name.upper():
            return tflops * 1e12, f"data sheet ({key} dense bf16)"
    import torch

    n = 2048
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.matmul(a, b)
    start, reps = time.perf_counter(), 5
    for _ in range(reps):
        torch.matmul(a, b)
    return 2 * n**3 * reps / (time.perf_counter() - start), f"measured {str(dtype).replace('torch.', '')} matmul"


def _model_flops_per_token(config, doc_len: float, method: str) -> float:
    """Linear layers: 6N (full) or 4N (LoRA: no weight gradients). Causal attention over
    documents of token-weighted mean length `doc_len` (packing keeps documents apart): 6*L*d*len,
    for both methods (attention has no weights; its backward is twice its forward)."""
    d, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    kv = d * config.num_key_value_heads // config.num_attention_heads
    per_layer = d * d * 2 + d * kv * 2 + 3 * d * config.intermediate_size
    n = layers * per_layer + d * vocab  # non-embedding weights + LM head
    return (6 if method == "full" else 4) * n + 6 * layers * d * doc_len


class _Timer:
    """Tokens and seconds of the steps after warm-up."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.tokens, self.seconds, self._t = warmup, 0.0, 0.0, None
        self._last_tokens = 0.0

    def callback(self):
        from transformers import TrainerCallback

        timer = self

        class Cb(TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                import torch

                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                timer._t = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                import torch

                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                timer._elapsed = time.perf_counter() - timer._t

            def on_log(self, args, state, control, logs=None, **kw):
                total = float((logs or {}).get("num_tokens", timer._last_tokens))
                if "loss" in (logs or {}) and state.global_step > timer.warmup:
                    timer.tokens += total - timer._last_tokens
                    timer.seconds += timer._elapsed
                timer._last_tokens = total

        return Cb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="8b")
    parser.add_argument("--method", choices=("lora", "full"), default="lora")
    parser.add_argument("--seq-len", type=int, default=None, help="packed row length (default 2048; tiny 512)")
    parser.add_argument("--steps", type=int, default=None, help="measured steps (default 10; tiny 5)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None, help="examples per step (recipe default; tiny 4)")
    parser.add_argument("--peak-tflops", type=float, default=None)
    args = parser.parse_args()

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, PrinterCallback
    from transformers import logging as hf_logging
    from trl import SFTTrainer

    from kit.local.demo_model import build_tiny_llama
    from kit.trainer import device as devices
    from kit.trainer import modeling, recipe
    from kit.trainer.run import layout, sft_config
    from kit.trainer.spec import Spec

    hf_logging.set_verbosity_error()
    tiny = args.shape == "tiny"
    seq_len = args.seq_len or (512 if tiny else 2048)
    steps = args.steps or (5 if tiny else 10)
    plan = devices.detect()
    if plan.device != "cuda" and not tiny:
        sys.exit(f"--shape {args.shape} needs a CUDA GPU; use --shape tiny on CPU")
    training = {"method": args.method, "max_length": seq_len, "epochs": 1}
    if args.batch_size or tiny:
        training["batch_size"] = args.batch_size or 4
    settings = recipe.resolve(training)
    hidden, layers, heads, kv, inter, vocab = SHAPES[args.shape]
    config = LlamaConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                         num_key_value_heads=kv, intermediate_size=inter, vocab_size=vocab,
                         max_position_embeddings=max(seq_len, 2048))
    config._attn_implementation = plan.attn_implementation
    dtype = torch.float32 if args.method == "full" else modeling.compute_dtype(plan)
    torch.manual_seed(0)
    with torch.device("cuda" if plan.device == "cuda" else "cpu"):
        previous = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        model = LlamaForCausalLM(config)
        torch.set_default_dtype(previous)

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = AutoTokenizer.from_pretrained(build_tiny_llama(Path(tmp) / "tok", hidden_size=32, num_layers=1))
        # LIMA-like example lengths (mean ~750 tokens), packed into rows of seq_len
        gen = torch.Generator().manual_seed(0)
        per_step = max(1, settings["batch_size"] * 750 // seq_len)
        shape = layout(per_step, settings["micro_batch_size"], plan.world_size)
        n_rows = shape["sequences_per_step"] * (steps + args.warmup + 1)
        examples, total = [], 0
        while total < n_rows * seq_len:
            length = int(torch.randint(64, seq_len, (1,), generator=gen))
            examples.append({"input_ids": torch.randint(0, vocab, (length,), generator=gen).tolist()})
            total += length
        spec = Spec("bench", Path(tmp), Path(tmp), Path(tmp) / "out", training)
        sft = sft_config(spec, settings, plan, packing=True, assistant_masks=False, has_eval=False, shape=shape)
        sft = dataclasses.replace(sft, max_steps=steps + args.warmup, save_strategy="no",
                                  completion_only_loss=None, enable_jit_checkpoint=False)
        timer = _Timer(args.warmup)
        trainer = SFTTrainer(model=model, args=sft, train_dataset=Dataset.from_list(examples),
                             processing_class=tokenizer, peft_config=modeling.lora_config(settings),
                             callbacks=[timer.callback()])
        trainer.remove_callback(PrinterCallback)
        trainer.train()

    tokens_per_s = timer.tokens / timer.seconds if timer.seconds else 0.0
    peak, source = (args.peak_tflops * 1e12, "--peak-tflops") if args.peak_tflops else _peak(
        plan.name, torch.bfloat16 if plan.bf16 else torch.float32)
    lengths = [len(e["input_ids"]) for e in examples]
    doc_len = sum(n * n for n in lengths) / sum(lengths)
    flops = _model_flops_per_token(config, doc_len, args.method)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        "shape": args.shape, "method": args.method, "device": plan.name, "params": params,
        "precision": "bf16" if plan.bf16 else "fp16" if plan.fp16 else "fp32",
        "attention": plan.attn_implementation, "packing": True, "seq_len": seq_len, **shape,
        "measured_steps": steps, "tokens": int(timer.tokens), "seconds": round(timer.seconds, 3),
        "tokens_per_s": round(tokens_per_s, 1), "model_tflops_per_s": round(tokens_per_s * flops / 1e12, 3),
        "peak_tflops": round(peak / 1e12, 2), "peak_source": source,
        "mfu": round(tokens_per_s * flops / peak, 4) if peak else None,
    }, indent=2))


if __name__ == "__main__":
    main()
