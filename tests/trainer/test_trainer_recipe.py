"""Recipes: LIMA's values for full, overrides from kit.yaml, one-line errors, no torch import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kit.errors import KitError
from kit.trainer.recipe import resolve
from tests.trainer.helpers import ROOT


def test_full_defaults_are_lima():
    s = resolve({"method": "full"})
    assert (s["epochs"], s["learning_rate"], s["min_learning_rate"], s["warmup_ratio"]) == (15, 1e-5, 1e-6, 0.0)
    assert (s["adam_beta1"], s["adam_beta2"], s["weight_decay"]) == (0.9, 0.95, 0.1)
    assert (s["batch_size"], s["max_length"], s["lr_schedule"]) == (32, 2048, "linear")
    assert s["lora_r"] is None and s["quantization"] is None


def test_qlora_defaults_follow_the_paper():
    s = resolve({"method": "qlora"})
    assert (s["lora_r"], s["lora_alpha"], s["lora_dropout"]) == (64, 16, 0.1)
    assert s["learning_rate"] == s["min_learning_rate"] == 2e-4  # constant schedule
    assert s["quantization"] == {"bits": 4, "type": "nf4", "double_quant": True, "compute_dtype": "bfloat16"}
    assert s["optimizer"] == "paged_adamw_32bit" and s["max_grad_norm"] == 0.3


def test_none_takes_the_default_and_values_override():
    s = resolve({"method": "lora", "epochs": None, "learning_rate": 1e-3, "lora_r": 8, "packing": False})
    assert s["epochs"] == 3 and s["learning_rate"] == 1e-3 and s["lora_r"] == 8 and s["packing"] is False
    assert s["lora_alpha"] == 32


def test_every_method_resolves_the_same_keys():
    keys = {m: set(resolve({"method": m})) for m in ("full", "lora", "qlora")}
    assert keys["full"] == keys["lora"] == keys["qlora"]


@pytest.mark.parametrize("training, fragment", [
    ({"method": "full", "lora_r": 8}, "training.lora_r"),
    ({"epochz": 3}, "training.epochz"),
    ({"method": "lora", "learning_rate": 1e-4, "min_learning_rate": 1e-3}, "training.min_learning_rate"),
    ({"method": "sgd"}, "training.method"),
])
def test_bad_settings_are_one_line_errors(training, fragment):
    with pytest.raises(KitError) as err:
        resolve(training)
    assert fragment in err.value.one_line() and "\n" not in err.value.one_line()


def test_importing_the_package_and_recipe_does_not_import_torch():
    code = ("import sys, kit.trainer, kit.trainer.recipe, kit.trainer.events;"
            "kit.trainer.recipe.resolve({});"
            "assert isinstance(kit.trainer.TRAINER_VERSION, str);"
            "bad = [m for m in ('torch', 'transformers', 'trl', 'peft') if m in sys.modules];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_select_defaults_to_best_is_checked_and_changes_the_run_fingerprint():
    from kit.config import KitConfig
    from kit.pipeline import run_fingerprint

    assert resolve({})["select"] == "best" and resolve({"select": "last"})["select"] == "last"
    with pytest.raises(KitError, match=r"^training\.select: "):
        resolve({"select": "newest"})
    base = {"name": "demo", "model": {"id": "org/m"}, "data": {"uri": "./d.jsonl"}, "target": "local"}
    best = KitConfig.model_validate(base)
    last = KitConfig.model_validate({**base, "training": {"select": "last"}})
    assert run_fingerprint(best, data="h", model_revision="r") != \
        run_fingerprint(last, data="h", model_revision="r")


def test_selection_picks_the_lowest_held_out_loss_and_says_why():
    from kit.trainer.checkpoints import select

    history = [{"eval_loss": 9.0, "step": 0}, {"loss": 3.0, "step": 5},
               {"eval_loss": 6.0, "epoch": 1.0, "step": 5}, {"eval_loss": 5.18, "epoch": 2.0, "step": 10},
               {"eval_loss": 5.18, "epoch": 3.0, "step": 15}, {"eval_loss": 5.58, "epoch": 4.0, "step": 20}]
    best = select(history, "best", 20)
    assert (best["step"], best["epoch"], best["eval_loss"], best["last_eval_loss"]) == (10, 2.0, 5.18, 5.58)
    assert best["reason"] == ("lowest held-out loss: 5.1800 at epoch 2 (step 10), against 5.5800 at "
                              "the end (step 20)")
    last = select(history, "last", 20)
    assert (last["step"], last["eval_loss"]) == (20, 5.58) and "5.1800 at epoch 2 (step 10)" in last["reason"]
    assert select(history[:4], "best", 10)["reason"] == "the last evaluation had the lowest held-out loss (5.1800)"
    none = select([{"loss": 1.0, "step": 3}], "best", 3)
    assert (none["step"], none["eval_loss"]) == (3, None) and "no held-out evaluation" in none["reason"]


def test_a_best_epoch_without_a_checkpoint_is_not_selected():
    """A run begun by a kit that did not save its best epochs: the best one still on disk."""
    from kit.trainer.checkpoints import select

    history = [{"eval_loss": 6.0, "epoch": 1.0, "step": 5}, {"eval_loss": 5.0, "epoch": 2.0, "step": 10},
               {"eval_loss": 5.5, "epoch": 3.0, "step": 15}, {"eval_loss": 5.8, "epoch": 4.0, "step": 20}]
    chosen = select(history, "best", 20, kept={15, 20})
    assert (chosen["step"], chosen["eval_loss"]) == (15, 5.5)
    assert chosen["reason"].endswith("; the lowest, 5.0000 at step 10, has no checkpoint left")
    assert select(history, "best", 20, kept={20})["step"] == 20
    assert select(history, "best", 20, kept={10, 20})["step"] == 10
