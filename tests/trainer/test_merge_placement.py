"""Where the LoRA merge loads the bf16 base (issue 23): on the GPUs when it fits their free
memory, spread over all of them when one is too small, in host memory only when the GPUs
cannot hold it and the pod can, and a one-line error naming both when neither can."""

from __future__ import annotations

import pytest

from kit.errors import KitError
from kit.estimate.fit import GIB
from kit.trainer.artifacts import merge_placement


def test_8b_merges_on_a_free_l4_not_in_a_12_gib_pod():
    placement = merge_placement(int(16e9), [int(22.5 * GIB)], int(12 * GIB))
    assert placement["device_map"] == "auto" and set(placement["max_memory"]) == {0}
    assert placement["max_memory"][0] == int(21.5 * GIB)          # less the CUDA context reserve


def test_a_base_larger_than_one_gpu_spreads_over_the_node():
    placement = merge_placement(int(140e9), [int(79 * GIB)] * 2, int(100 * GIB))
    assert placement["device_map"] == "auto" and set(placement["max_memory"]) == {0, 1}


def test_without_room_on_the_gpus_the_host_takes_it_when_it_can():
    assert merge_placement(int(16e9), [int(2 * GIB)], int(40 * GIB)) == {}
    assert merge_placement(int(16e9), [], int(40 * GIB)) == {}     # a CPU-only machine


def test_neither_gpu_nor_host_is_a_one_line_error_before_loading():
    with pytest.raises(KitError) as err:
        merge_placement(int(140e9), [int(22 * GIB)], int(12 * GIB))
    assert "\n" not in err.value.message and "130.4 GiB" in err.value.message
    assert "adapter" in err.value.hint


def test_the_trainer_lets_go_of_its_model_and_optimizer_before_the_merge(tmp_path, tiny_model):
    """Every reference the Trainer, its callbacks and accelerate keep is dropped, so the GPU
    memory they held is free for the merge (here on the CPU: the objects are collected)."""
    import gc
    import weakref

    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    from kit.trainer.artifacts import release_training_memory

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    trainer = Trainer(model=model, args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[]))
    trainer.create_optimizer_and_scheduler(num_training_steps=1)
    alive = weakref.ref(model)
    optimizer = weakref.ref(trainer.optimizer)
    del model
    release_training_memory(trainer)
    gc.collect()
    assert alive() is None and optimizer() is None
