"""The Trainer callback that turns training into the kit's progress events and metrics.jsonl."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

from transformers import TrainerCallback

from kit.trainer.events import Events

logger = logging.getLogger("kit.trainer")


class Progress(TrainerCallback):
    """Emits start/step/eval/checkpoint events, appends metrics.jsonl, uploads checkpoints.

    Step time is measured from the end of one optimizer step (after its logging, evaluation and
    saving) to the end of the next, so tokens/s and the ETA describe training alone.
    """

    def __init__(self, events: Events, output: Path, *, run_id: str, method: str, device: str, examples: int,
                 upload_uri: str | None, keep_best: bool = False) -> None:
        self.events = events
        self.output = output
        self.metrics = output / "metrics.jsonl"
        self.run_id = run_id
        self.method = method
        self.device = device
        self.examples = examples
        self.upload_uri = upload_uri
        # training.select best: an evaluation that beats every earlier one is saved as a
        # checkpoint, which the Trainer then keeps (metric_for_best_model protects it from
        # save_total_limit) and the run loads back at the end.
        self.keep_best = keep_best
        self._training = False
        self.resumed_from = 0
        self._mark = time.perf_counter()
        self._step_s = 0.0
        self._seen_tokens = 0.0
        self._durations: list[float] = []
        # Called once training has begun (the model is prepared, "start" is out) and before the
        # first step: the base model's held-out evaluation (kit.trainer.evaluate).
        self.before_first_step: Callable[[], None] | None = None

    def _write(self, record: dict[str, Any]) -> None:
        with self.metrics.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, separators=(",", ":")) + "\n")

    def on_train_begin(self, args, state, control, **kwargs):
        self.resumed_from = state.global_step
        if state.is_world_process_zero:
            self.events.emit("start", run_id=self.run_id, method=self.method,
                             device=self.device, examples=self.examples, total_steps=state.max_steps,
                             resumed_from_step=state.global_step)
        if self.before_first_step is not None:
            self.before_first_step()
        self._training = True
        self._mark = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        now = time.perf_counter()
        self._step_s = now - self._mark
        self._durations.append(self._step_s)
        self._mark = now

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if state.is_world_process_zero and "loss" in logs:
            total = float(logs.get("num_tokens", 0.0))
            tokens = max(0.0, total - self._seen_tokens)
            self._seen_tokens = total
            recent = self._durations[-20:] or [self._step_s]
            per_step = sum(recent) / len(recent)
            tps = tokens / self._step_s if self._step_s > 0 else None
            eta = max(0, state.max_steps - state.global_step) * per_step
            record = {"kind": "train", "step": state.global_step, "epoch": round(state.epoch or 0.0, 4),
                      "loss": logs["loss"], "lr": logs.get("learning_rate"), "grad_norm": logs.get("grad_norm"),
                      "tokens": int(tokens), "step_s": round(self._step_s, 4),
                      "tokens_per_s": round(tps, 1) if tps else None, "time": round(time.time(), 3)}
            self._write(record)
            self.events.emit("step", step=state.global_step, total=state.max_steps, epoch=record["epoch"],
                             loss=logs["loss"], lr=logs.get("learning_rate"), tokens_per_s=record["tokens_per_s"],
                             eta_s=round(eta, 1))
        if state.is_world_process_zero and "eval_loss" in logs:
            epoch = round(state.epoch or 0.0, 4)
            self._write({"kind": "eval", "step": state.global_step, "epoch": epoch, "eval_loss": logs["eval_loss"]})
            self.events.emit("eval", epoch=epoch, step=state.global_step, eval_loss=logs["eval_loss"])
        self._mark = time.perf_counter()

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        loss = (metrics or {}).get("eval_loss")
        if self.keep_best and self._training and loss is not None and \
                (state.best_metric is None or loss < state.best_metric):
            control.should_save = True  # every rank decides alike: the loss is gathered
        self._mark = time.perf_counter()

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            self.events.emit("checkpoint", step=state.global_step, path=str(path))
            if self.upload_uri:  # a failed checkpoint upload is retried at the next one and at the end
                from kit.trainer.artifacts import upload

                try:
                    upload(self.output, self.upload_uri)
                except Exception as exc:  # noqa: BLE001 - training goes on; the final upload must succeed
                    logger.warning("checkpoint upload to %s failed: %s", self.upload_uri, exc)
        self._mark = time.perf_counter()
