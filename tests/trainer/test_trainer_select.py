"""training.select: the run keeps (and serves) the checkpoint with the lowest held-out loss, through
checkpoint rotation and a kill-and-resume; `last` keeps the final step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.trainer import checkpoints
from tests.trainer.helpers import conversations, read_until, run_trainer, start_trainer, write_jsonl

# Full fine-tune at a high learning rate on a few repeated answers: the held-out loss on unrelated
# questions falls for two epochs, then rises as the model memorises (measured: lowest at epoch 2
# of 6, step 10 of 30).
OVERFIT = {"method": "full", "packing": False, "batch_size": 8, "micro_batch_size": 8, "max_length": 128,
           "learning_rate": 3e-3, "epochs": 6, "checkpoint_steps": 12}
HELD_OUT = [("Where is the pharmacy?", "The pharmacy is on the ground floor next to the cafeteria."),
            ("When are visiting hours?", "Visiting hours are from nine in the morning until eight at night."),
            ("How do I request my records?", "Fill in the release form at the front desk and bring photo ID."),
            ("Can I park at the clinic?", "Yes, the garage on Elm Street is free for patients for three hours.")]


def _spec(tmp: Path, model: Path, output: Path, training: dict) -> Path:
    data = write_jsonl(tmp / "data.jsonl", conversations(40))
    held = write_jsonl(tmp / "held.jsonl", [[{"role": "user", "content": q}, {"role": "assistant", "content": a}]
                                            for q, a in HELD_OUT])
    spec = tmp / f"spec-{output.name}.json"
    spec.write_text(json.dumps({"run_id": output.name, "base_model": str(model), "data": str(data),
                                "output": str(output), "training": training, "eval_data": str(held),
                                "eval": {"generate_examples": 1, "max_new_tokens": 4}}))
    return spec


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_best_checkpoint_is_kept_through_rotation_and_resume_and_served(tmp_path, tiny_model):
    output = tmp_path / "best"
    spec = _spec(tmp_path, tiny_model, output, OVERFIT)
    proc = start_trainer(spec)
    read_until(proc, lambda e: e["event"] == "checkpoint" and e["step"] >= 24)
    proc.kill()  # a crash after save_total_limit (2) has rotated checkpoints past the best one
    proc.wait(timeout=60)

    rerun = run_trainer(spec)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.of("start")[0]["resumed_from_step"] == 24
    summary = json.loads((output / "summary.json").read_text())
    records = [json.loads(x) for x in (output / "metrics.jsonl").read_text().splitlines()]
    evals = {r["step"]: r["eval_loss"] for r in records if r["kind"] == "eval" and r["step"] > 0}
    best_step = min(evals, key=evals.get)
    last_step = summary["metrics"]["steps"]
    assert best_step < last_step and evals[best_step] < evals[last_step]  # the data overfits as designed
    selection = summary["metrics"]["selection"]
    assert (selection["mode"], selection["step"], selection["last_step"]) == ("best", best_step, last_step)
    assert selection["eval_loss"] == pytest.approx(evals[best_step])
    assert selection["last_eval_loss"] == pytest.approx(evals[last_step])
    assert f"step {best_step}" in selection["reason"] and f"{evals[last_step]:.4f}" in selection["reason"]
    assert [{k: v for k, v in e.items() if k != "time"} for e in rerun.of("select")] == \
        [{"event": "select", **selection}]
    # The served weights are the best checkpoint's, bit for bit, and the report's loss is its loss.
    kept = checkpoints.folder(output) / f"checkpoint-{best_step}"
    served, best = _weights(output / "model"), _weights(kept)
    assert served.keys() == best.keys() and all((served[k] == best[k]).all() for k in best)
    last = _weights(checkpoints.folder(output) / f"checkpoint-{last_step}")
    assert any(not (served[k] == last[k]).all() for k in last)
    held_out = json.loads((output / "eval.json").read_text())
    assert held_out["step"] == best_step and held_out["tuned_loss"] == pytest.approx(evals[best_step], abs=1e-4)


def test_select_last_keeps_the_final_step_and_says_where_the_lowest_was(tmp_path, tiny_model):
    output = tmp_path / "last"
    run = run_trainer(_spec(tmp_path, tiny_model, output, {**OVERFIT, "select": "last", "epochs": 3}))
    assert run.returncode == 0, run.stderr[-3000:]
    selection = json.loads((output / "summary.json").read_text())["metrics"]["selection"]
    evals = {e["step"]: e["eval_loss"] for e in run.of("eval") if e["step"] > 0}
    last_step = max(evals)
    assert (selection["mode"], selection["step"]) == ("last", last_step)
    assert selection["reason"].startswith("training.select is last")
    held_out = json.loads((output / "eval.json").read_text())
    assert held_out["tuned_loss"] == pytest.approx(evals[last_step], abs=1e-4)
    served, final = _weights(output / "model"), _weights(checkpoints.folder(output) / f"checkpoint-{last_step}")
    assert all((served[k] == final[k]).all() for k in final)


def test_kit_up_shows_the_checkpoint_kept_and_why():
    import io

    from rich.console import Console

    from kit.progress import ProgressReporter, show_event

    out = io.StringIO()
    reporter = ProgressReporter(Console(file=out, width=200))
    event = {"event": "select", "mode": "best", "step": 10, "reason": "lowest held-out loss: 7.0406 at epoch 2 "
             "(step 10), against 7.1688 at the end (step 30)"}
    assert show_event(event, reporter) is None
    assert out.getvalue() == f"  kept step 10: {event['reason']}\n"
