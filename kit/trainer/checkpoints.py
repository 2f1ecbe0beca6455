"""Finding the checkpoint to resume from, and keeping metrics.jsonl consistent with it.

A checkpoint folder is complete once the Trainer has written trainer_state.json (its last file)
and carries no JIT-checkpoint "incomplete" sentinel. A folder cut short by a crash is removed,
so the next save of that step starts clean.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

_NAME = re.compile(r"^checkpoint-(\d+)$")
INCOMPLETE_SENTINEL = "checkpoint-is-incomplete.txt"


def folder(output: Path) -> Path:
    return output / "checkpoints"


def _steps(root: Path) -> list[tuple[int, Path]]:
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return sorted(found)


def is_complete(path: Path) -> bool:
    return (path / "trainer_state.json").is_file() and not (path / INCOMPLETE_SENTINEL).exists()


def complete(output: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every complete checkpoint, oldest first."""
    return [(step, p) for step, p in _steps(folder(output)) if is_complete(p)]


def latest_complete(output: Path) -> Path | None:
    found = complete(output)
    return found[-1][1] if found else None


def discard_incomplete(output: Path) -> list[Path]:
    """Remove checkpoint folders a crash left half-written (rank 0 only)."""
    removed = [p for _, p in _steps(folder(output)) if not is_complete(p)]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def step_of(checkpoint: Path) -> int:
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return int(state.get("global_step", 0))


def truncate_metrics(metrics: Path, step: int) -> None:
    """Drop records past `step`: a resumed run redoes those steps and logs them again."""
    if not metrics.is_file():
        return
    kept = []
    for line in metrics.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by the crash
        if int(record.get("step", 0)) <= step:
            kept.append(json.dumps(record, separators=(",", ":")))
    tmp = metrics.with_suffix(".tmp")
    tmp.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
    tmp.replace(metrics)


def _evals(log_history: list[dict]) -> list[tuple[int, float, float]]:
    """(step, epoch, held-out loss) of each evaluation during training, in order (the base
    model's evaluation before the first step is not one of them)."""
    found: dict[int, tuple[int, float, float]] = {}
    for entry in log_history:
        if "eval_loss" in entry and int(entry.get("step", 0)) > 0:
            step = int(entry["step"])
            found[step] = (step, round(float(entry.get("epoch") or 0.0), 4), float(entry["eval_loss"]))
    return [found[s] for s in sorted(found)]


def select(log_history: list[dict], mode: str, last_step: int, kept: set[int] | None = None) -> dict:
    """Which checkpoint a finished run keeps (training.select), and why, from the trainer's log
    history: `best` the evaluation with the lowest held-out loss (the earliest on a tie) among
    the steps whose checkpoint is still there (`kept`; None: all), `last` the final step. Plain
    data for summary.json, the run record and the `select` event."""
    evals = _evals(log_history)
    last = next((e for e in evals if e[0] == last_step), None)
    out = {"mode": mode, "step": last_step, "epoch": last[1] if last else None,
           "eval_loss": last[2] if last else None, "last_step": last_step,
           "last_eval_loss": last[2] if last else None}
    if not evals:
        return {**out, "reason": "no held-out evaluation during training: the last step is kept"}
    best = min(evals, key=lambda e: e[2])
    if mode == "last":
        note = ("" if best[0] == last_step else
                f"; the lowest held-out loss was {best[2]:.4f} at epoch {best[1]:g} (step {best[0]})")
        return {**out, "reason": f"training.select is last: the final step is kept{note}"}
    usable = [e for e in evals if kept is None or e[0] in kept or e[0] == last_step]
    lost = ""
    if best not in usable:  # e.g. a run begun by a kit that did not save its best epochs
        lost = f"; the lowest, {best[2]:.4f} at step {best[0]}, has no checkpoint left"
        best = min(usable, key=lambda e: e[2]) if usable else (last_step, out["epoch"], out["eval_loss"])
    out.update(step=best[0], epoch=best[1], eval_loss=best[2])
    if best[0] == last_step:
        return {**out, "reason": f"the last evaluation had the lowest held-out loss ({best[2]:.4f}){lost}"
                if not lost else f"the final step is kept{lost}"}
    against = f"against {last[2]:.4f} at the end" if last else "the end was not evaluated"
    return {**out, "reason": (f"lowest held-out loss: {best[2]:.4f} at epoch {best[1]:g} (step {best[0]}), "
                              f"{against} (step {last_step}){lost}")}
