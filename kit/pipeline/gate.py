"""The evaluation gate: a fine-tune that did worse than its base model on held-out examples is
recorded as rejected and not rolled out; the endpoint keeps serving what it served.

The numbers come from the trainer (kit.trainer.evaluate), measured where it trained; the gate
only compares them, so changing eval.max_loss_ratio re-judges a run without training it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kit.errors import KitError
from kit.pipeline.ledger import REJECTED, SUCCEEDED, Run

if TYPE_CHECKING:
    from kit.config import KitConfig

NO_HELD_OUT = ("no held-out examples to judge it on (training.eval_fraction x the examples "
               "rounds to 0)")


def judge(cfg: "KitConfig", run: Run) -> str | None:
    """Record the run's held-out evaluation (run.eval, with `passed`) and, with the gate on,
    mark a run that fails it rejected. Returns the one-line reason, or None."""
    if run.status not in (SUCCEEDED, REJECTED):
        return None
    if "eval" not in (run.metrics or {}):
        # Trained before the kit evaluated runs: nothing to judge it by, and it stays as it was.
        run.eval = {"passed": None, "max_loss_ratio": cfg.eval.max_loss_ratio,
                    "note": "trained before held-out evaluation existed"}
        return None
    held = run.metrics["eval"] or {}
    ratio = cfg.eval.max_loss_ratio
    reason = None
    if not held.get("examples"):
        run.eval = {**held, "passed": None, "max_loss_ratio": ratio}
        reason = NO_HELD_OUT if cfg.eval.gate else None
    else:
        base, tuned = float(held["base_loss"]), float(held["tuned_loss"])
        passed = tuned <= ratio * base
        run.eval = {**held, "passed": passed, "max_loss_ratio": ratio}
        if not passed and cfg.eval.gate:
            reason = (f"held-out loss {tuned:.4f} > eval.max_loss_ratio {ratio:g} x base "
                      f"model's {base:.4f}")
    run.status = REJECTED if reason else SUCCEEDED
    run.reason = reason
    return reason


def check_held_out(cfg: "KitConfig", examples: int) -> None:
    """Before any training: with the gate on, the run must have held-out examples to be
    judged on (a fixed eval.uri, or a split that does not round to nothing)."""
    from kit.trainer.recipe import resolve

    if not cfg.eval.gate or cfg.eval.uri:
        return
    settings = resolve(cfg.training.model_dump())
    held = min(settings["eval_max_examples"], round(examples * settings["eval_fraction"]))
    if held <= 0 or examples - held < 1:
        raise KitError(f"eval.gate: {examples} examples x training.eval_fraction "
                       f"{settings['eval_fraction']:g} leaves no held-out example to judge the run on",
                       hint="raise training.eval_fraction, set eval.uri to a held-out set, or "
                            "eval.gate: false")


def enforce(cfg: "KitConfig", run: Run, serving: str | None) -> None:
    """Raise the one-line error of a rejected run (after judge); `serving` is the run the
    endpoint keeps serving."""
    if run.status != REJECTED:
        return
    keeps = f"the endpoint keeps serving run {serving}" if serving else "nothing is served"
    raise KitError(f"run {run.id} rejected by the evaluation gate: {run.reason}; {keeps}",
                   hint=f"see why: kit eval {run.id} --report report.html; serve it anyway: "
                        f"kit serve --run {run.id} --force")


def check_servable(run: Run, *, force: bool) -> None:
    """A succeeded run may be served; a rejected one only with --force; others have no model."""
    if run.status == SUCCEEDED or (run.status == REJECTED and force):
        return
    if run.status == REJECTED:
        raise KitError(f"run {run.id} was rejected by the evaluation gate: {run.reason}",
                       hint=f"serve it anyway: kit serve --run {run.id} --force")
    raise KitError(f"run {run.id} is {run.status}, not succeeded: there is no model to serve",
                   hint="pick a succeeded run from `kit runs`")
