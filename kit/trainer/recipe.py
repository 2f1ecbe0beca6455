"""Training recipes: LIMA for `full`, the QLoRA paper's settings for `qlora`, and LoRA defaults.

Importable without torch: `resolve()` feeds the fine-tune fingerprint. Every value can be
overridden from kit.yaml `training:`; a field left None takes the recipe's value.

Sources:
- full  - LIMA, Zhou et al. 2023, arXiv:2305.11206 sec. 2/3 ("Training LIMA"): 15 epochs, AdamW
  beta1 0.9 beta2 0.95, weight decay 0.1, no warmup, lr 1e-5 decaying linearly to 1e-6, batch 32
  examples, texts trimmed to 2048 tokens, a special end-of-turn token after each utterance.
  Not reproduced: LIMA's residual dropout (0.0 -> 0.3 across layers); Llama in transformers
  has no residual-dropout hook.
- qlora - QLoRA, Dettmers et al. 2023, arXiv:2305.14314 sec. 4 and app. B (and its reference
  qlora.py): 4-bit NF4 with double quantization, bf16 compute, LoRA on all linear layers with
  r 64, alpha 16, dropout 0.1 (7B/13B), lr 2e-4 constant after a 3% warmup, batch 16, AdamW
  beta2 0.999, max grad norm 0.3, paged AdamW 32-bit.
- lora  - the same QLoRA recipe without quantization (lr 2e-4, batch 16, warmup 3%, beta2 0.999,
  grad norm 0.3, all linear layers) with r 16 / alpha 32 / dropout 0.05 and a linear decay to
  10%: Schulman et al., "LoRA Without Regret" (Thinking Machines, 2025) find all-layer LoRA at
  ~10x the full fine-tuning lr matches full fine-tuning and small ranks suffice for LIMA-sized
  data; r 16 / alpha 32 / dropout 0.05 are TRL's documented SFT LoRA values.
- epochs for lora/qlora: 3, the transformers/TRL default (LIMA's 15 epochs are tuned to its
  lr 1e-5; at LoRA's 20x larger lr they overfit 1k examples).
- everywhere: loss on assistant tokens only (LIMA trains on responses); `batch_size` counts
  examples per optimizer step, as in LIMA; padding-free packing where the model supports it
  (rows of `max_length`; a step then takes the rows that hold `batch_size` examples on average,
  so steps and tokens per step stay close to the unpacked recipe); a held-out eval split of 5%
  capped at 50 examples (LIMA's dev set size), eval loss per epoch; seed 42.
- select: best - the run keeps the evaluation with the lowest held-out loss, not the final step:
  early stopping on a validation set, as transformers' `metric_for_best_model="eval_loss"`
  does. A proxy, and the report says so: LIMA (app. "Anticorrelation between Perplexity and
  Generation Quality", read 2026-12-07 via https://abdullahsamilguser.com/paper/zhou-2023-lima.html)
  saw held-out perplexity rise while reply quality improved and picked its checkpoints by hand
  on a 50-example set; `select: last` keeps the final step.
"""

from __future__ import annotations

from typing import Any

from kit.errors import KitError

COMMON: dict[str, Any] = {
    "max_length": 2048,
    "lr_schedule": "linear",
    "adam_beta1": 0.9,
    "eval_fraction": 0.05,
    "eval_max_examples": 50,
    "packing": True,
    "checkpoint_steps": 50,
    "checkpoints_kept": 2,
    "select": "best",
    "seed": 42,
    "loss": "assistant_only",
    "end_of_turn": "chat template's end-of-turn token (kit base template: the tokenizer's eos)",
}

RECIPES: dict[str, dict[str, Any]] = {
    "full": {
        "epochs": 15,
        "learning_rate": 1e-5,
        "min_learning_rate": 1e-6,
        "warmup_ratio": 0.0,
        "batch_size": 32,
        "micro_batch_size": 1,
        "weight_decay": 0.1,
        "adam_beta2": 0.95,
        "max_grad_norm": 1.0,
        "optimizer": "adamw",
        "lora_r": None,
        "lora_alpha": None,
        "lora_dropout": None,
        "lora_target_modules": None,
        "quantization": None,
    },
    "lora": {
        "epochs": 3,
        "learning_rate": 2e-4,
        "min_learning_rate": 2e-5,
        "warmup_ratio": 0.03,
        "batch_size": 16,
        "micro_batch_size": 4,
        "weight_decay": 0.0,
        "adam_beta2": 0.999,
        "max_grad_norm": 0.3,
        "optimizer": "adamw",
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "lora_target_modules": "all-linear",
        "quantization": None,
    },
    "qlora": {
        "epochs": 3,
        "learning_rate": 2e-4,
        "min_learning_rate": 2e-4,  # equal to lr: constant schedule, as in the paper
        "warmup_ratio": 0.03,
        "batch_size": 16,
        "micro_batch_size": 4,
        "weight_decay": 0.0,
        "adam_beta2": 0.999,
        "max_grad_norm": 0.3,
        "optimizer": "paged_adamw_32bit",
        "lora_r": 64,
        "lora_alpha": 16,
        "lora_dropout": 0.1,
        "lora_target_modules": "all-linear",
        "quantization": {"bits": 4, "type": "nf4", "double_quant": True, "compute_dtype": "bfloat16"},
    },
}

# TrainingConfig fields that only make sense with an adapter.
_LORA_ONLY = ("lora_r", "lora_alpha", "lora_dropout")


def resolve(training: dict[str, Any]) -> dict[str, Any]:
    """Full settings for the run: the method's recipe, overridden by every non-None field.

    `training` holds kit.yaml `training:` fields (TrainingConfig); validated here so the
    trainer image rejects a bad spec with the same one-line errors as `kit up`.
    """
    from pydantic import ValidationError

    from kit.config import TrainingConfig

    try:
        cfg = TrainingConfig.model_validate(training or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise KitError(f"training.{where}: {err['msg']}", hint="see kit.yaml `training:`") from None
    given = cfg.model_dump()
    method = given.pop("method")
    settings: dict[str, Any] = {"method": method, **COMMON, **RECIPES[method]}
    for key, value in given.items():
        if value is None:
            continue
        if method == "full" and key in _LORA_ONLY:
            raise KitError(f"training.{key}: only applies to method lora or qlora",
                           hint="remove it, or set training.method: lora")
        settings[key] = value
    if settings["min_learning_rate"] > settings["learning_rate"]:
        raise KitError(
            f"training.min_learning_rate: {settings['min_learning_rate']} is above learning_rate "
            f"{settings['learning_rate']}", hint="the schedule decays from learning_rate down to it")
    if settings["micro_batch_size"] > settings["batch_size"]:
        settings["micro_batch_size"] = settings["batch_size"]
    return settings
