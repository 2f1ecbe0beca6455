"""One training run: data -> template -> model -> TRL SFTTrainer -> resume -> train -> artifacts."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from kit.trainer import TRAINER_VERSION, chat, checkpoints, dataset, evaluate, modeling
from kit.trainer import device as devices
from kit.trainer.artifacts import check_upload, save_final, summarize, upload, write_summary
from kit.trainer.events import Events, Preempted
from kit.trainer.spec import Spec


@dataclass
class Prepared:
    trainer: Any
    tokenizer: Any
    template: chat.TemplatePlan
    device: devices.DevicePlan
    settings: dict[str, Any]
    shape: dict[str, Any]      # sequences per step, micro-batch, accumulation, world size, packing
    train_examples: int
    held_out: list             # the held-out conversations (kit.trainer.evaluate)
    progress: Any              # kit.trainer.callbacks.Progress


def layout(per_step: int, micro_batch_size: int, world_size: int) -> dict[str, int]:
    """Micro-batch and gradient accumulation for `per_step` sequences per optimizer step."""
    micro = max(1, min(micro_batch_size, math.ceil(per_step / world_size)))
    accum = max(1, round(per_step / (micro * world_size)))
    return {"sequences_per_step": micro * accum * world_size, "micro_batch_size": micro,
            "gradient_accumulation_steps": accum, "world_size": world_size}


def sft_config(spec: Spec, settings: dict[str, Any], device: devices.DevicePlan, *, packing: bool,
               assistant_masks: bool, has_eval: bool, shape: dict[str, int]) -> Any:
    """Map the resolved recipe onto TRL's SFTConfig (a transformers TrainingArguments)."""
    from trl import SFTConfig

    micro, accum = shape["micro_batch_size"], shape["gradient_accumulation_steps"]
    lr, min_lr = settings["learning_rate"], settings["min_learning_rate"]
    if min_lr < lr:  # linear decay from lr to min_lr (polynomial decay with power 1)
        schedule, schedule_kwargs = "polynomial", {"lr_end": min_lr, "power": 1.0}
    else:
        schedule, schedule_kwargs = "constant_with_warmup", {}
    optim = settings["optimizer"]
    if optim == "adamw":
        optim = "adamw_torch_fused" if device.device == "cuda" else "adamw_torch"
    return SFTConfig(
        output_dir=str(checkpoints.folder(spec.output)),
        num_train_epochs=settings["epochs"],
        per_device_train_batch_size=micro,
        per_device_eval_batch_size=micro,
        gradient_accumulation_steps=accum,
        learning_rate=lr,
        lr_scheduler_type=schedule,
        lr_scheduler_kwargs=schedule_kwargs,
        warmup_steps=settings["warmup_ratio"],  # a float below 1 is a ratio of the total steps
        weight_decay=settings["weight_decay"],
        adam_beta1=settings["adam_beta1"],
        adam_beta2=settings["adam_beta2"],
        max_grad_norm=settings["max_grad_norm"],
        optim=optim,
        bf16=device.bf16,
        fp16=device.fp16,
        use_cpu=device.device == "cpu",
        activation_checkpointing=device.gradient_checkpointing and not device.fsdp,
        fsdp=device.fsdp,
        fsdp_config=device.fsdp_config() if device.fsdp else None,
        ddp_find_unused_parameters=False if device.world_size > 1 and not device.fsdp else None,
        max_length=settings["max_length"],
        packing=packing,
        packing_strategy="bfd",
        assistant_only_loss=assistant_masks,
        completion_only_loss=None if assistant_masks else True,
        logging_strategy="steps",
        logging_steps=1,
        eval_strategy="epoch" if has_eval else "no",
        # training.select best: the Trainer tracks the lowest held-out loss (state.best_*) and
        # keeps its checkpoint through save_total_limit rotation and resumes; the kit's Progress
        # callback saves that checkpoint, and train() loads it back at the end.
        metric_for_best_model="eval_loss" if has_eval and settings["select"] == "best" else None,
        greater_is_better=False if has_eval and settings["select"] == "best" else None,
        save_strategy="steps",
        save_steps=settings["checkpoint_steps"],
        save_total_limit=settings["checkpoints_kept"],
        enable_jit_checkpoint=True,  # SIGTERM (preemption): save a checkpoint, then stop
        seed=settings["seed"],
        data_seed=settings["seed"],
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )


def prepare(spec: Spec, settings: dict[str, Any], events: Events) -> Prepared:
    """Everything up to (not including) trainer.train()."""
    from transformers import PrinterCallback, set_seed
    from trl import SFTTrainer

    from kit.trainer.callbacks import Progress

    device = devices.detect()
    set_seed(settings["seed"])
    conversations = dataset.load(spec.data)
    if spec.eval_data is not None:  # a fixed held-out set: train on every example
        train_convs, eval_convs = conversations, dataset.load(spec.eval_data)
    else:
        train_convs, eval_convs = dataset.split(conversations, settings["eval_fraction"],
                                                settings["eval_max_examples"], settings["seed"])
    tokenizer = modeling.load_tokenizer(spec.base_model)
    template = chat.plan(tokenizer)
    tokenizer.chat_template = template.training
    train_ds = dataset.to_dataset(train_convs, template.assistant_masks)
    eval_ds = dataset.to_dataset(eval_convs, template.assistant_masks) if eval_convs else None
    model = modeling.load_model(spec.base_model, settings, device)
    packing = bool(settings["packing"]) and devices.supports_packing(type(model))
    lengths = dataset.token_lengths(train_convs, tokenizer, template.training, template.assistant_masks,
                                    settings["max_length"])
    per_step = dataset.sequences_per_step(settings["batch_size"], lengths, settings["max_length"], packing)
    shape = {**layout(per_step, settings["micro_batch_size"], device.world_size), "packing": packing}
    args = sft_config(spec, settings, device, packing=packing, assistant_masks=template.assistant_masks,
                      has_eval=eval_ds is not None, shape=shape)
    progress = Progress(events, spec.output, run_id=spec.run_id, method=settings["method"], device=device.name,
                        examples=len(train_convs), upload_uri=spec.upload_uri,
                        keep_best=eval_ds is not None and settings["select"] == "best")
    trainer = SFTTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                         processing_class=tokenizer, peft_config=modeling.lora_config(settings),
                         callbacks=[progress])
    trainer.remove_callback(PrinterCallback)  # its log dicts would only duplicate the events
    return Prepared(trainer, tokenizer, template, device, settings, shape, len(train_convs), eval_convs,
                    progress)


def keep_selected(spec: Spec, trainer: Any, mode: str, events: Events, is_main: bool) -> dict[str, Any]:
    """training.select: load the chosen checkpoint's weights back into the trainer's model when
    it is not the final step (every rank joins), and say which and why (the `select` event)."""
    state = trainer.state
    kept = {step for step, path in checkpoints.complete(spec.output)}
    selection = checkpoints.select(state.log_history, mode, state.global_step, kept)
    if selection["step"] != state.global_step:
        chosen = checkpoints.folder(spec.output) / f"checkpoint-{selection['step']}"
        state.best_model_checkpoint = str(chosen)  # where it is now (a resumed run may have moved)
        trainer._load_best_model()  # transformers' loader: full weights, adapters, FSDP shards
    if is_main:
        events.emit("select", **selection)
    return selection


def train(spec: Spec, settings: dict[str, Any], events: Events) -> dict[str, Any]:
    """Run (or resume) training and write the artifacts; returns the summary metrics."""
    started = time.time()
    check_upload(spec.upload_uri)
    spec.output.mkdir(parents=True, exist_ok=True)
    prep = prepare(spec, settings, events)
    trainer, device = prep.trainer, prep.device
    if device.is_main:  # a run in progress claims no success, even over an earlier summary
        (spec.output / "summary.json").unlink(missing_ok=True)
        checkpoints.discard_incomplete(spec.output)
    resume = checkpoints.latest_complete(spec.output)
    metrics_path = spec.output / "metrics.jsonl"
    if device.is_main:
        if resume is not None:
            checkpoints.truncate_metrics(metrics_path, checkpoints.step_of(resume))
        else:
            metrics_path.unlink(missing_ok=True)
    held_out = prep.held_out
    replies = bool(held_out) and device.world_size == 1   # a sharded model generates on all ranks
    found: dict[str, Any] = {}
    if held_out:
        prep.progress.before_first_step = lambda: found.update(base=evaluate.base_half(
            spec.output, trainer, prep.tokenizer, held_out, spec.eval, replies))
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    base = found.get("base") or (evaluate.base_half(spec.output, trainer, prep.tokenizer, held_out,
                                                    spec.eval, replies) if held_out else None)
    state = trainer.state
    if state.global_step < state.max_steps:
        latest = checkpoints.latest_complete(spec.output)
        if device.is_main and latest is not None:
            events.emit("checkpoint", step=checkpoints.step_of(latest), path=str(latest))
            if spec.upload_uri:
                upload(spec.output, spec.upload_uri)
        where = f"checkpoint at step {checkpoints.step_of(latest)}" if latest else "no checkpoint"
        raise Preempted(f"preempted (SIGTERM) at step {state.global_step}/{state.max_steps}; {where}; "
                        "rerun the same run id to resume")
    selection = keep_selected(spec, trainer, settings["select"], events, device.is_main)
    held_out_eval = (evaluate.tuned_half(spec.output, trainer, prep.tokenizer, held_out, spec.eval,
                                         base, replies, selection["step"]) if base is not None else None)
    save_final(trainer, prep.tokenizer, prep.template.serving, spec.base_model, spec.output,
               settings["method"], device.is_main, device.fsdp)
    metrics = summarize(metrics_path, settings["epochs"])
    metrics["eval"] = ({k: v for k, v in held_out_eval.items() if k != "samples"}
                       if held_out_eval else {"examples": 0, "base_loss": None, "tuned_loss": None,
                                              "generation": None})
    metrics["selection"] = selection
    if device.is_main:
        if spec.upload_uri:  # everything else first, so a remote summary.json also means complete
            upload(spec.output, spec.upload_uri)
        write_summary(spec.output, {
            "status": "succeeded",
            "run_id": spec.run_id,
            "method": settings["method"],
            "base_model": str(spec.base_model),
            "trainer_version": TRAINER_VERSION,
            "chat_template": prep.template.source,
            "layout": prep.shape,
            "wall_s": round(time.time() - started, 1),
            "metrics": metrics,
            "settings": settings,
        })
        if spec.upload_uri:
            upload(spec.output, spec.upload_uri)
    return metrics
