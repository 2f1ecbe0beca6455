"""Under torchrun (two CPU processes, gloo): one event stream, one set of artifacts, from rank 0."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.trainer.helpers import ROOT, parse_events, trainer_env, write_spec


def test_two_processes_train_together_and_only_rank_0_writes(tmp_path, tiny_model, data_file):
    output = tmp_path / "out"
    spec = write_spec(tmp_path, tiny_model, data_file, output,
                      {"method": "lora", "epochs": 2, "learning_rate": 2e-2, "batch_size": 4, "micro_batch_size": 2,
                       "max_length": 128, "eval_fraction": 0.1, "checkpoint_steps": 3})
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-port", "29517", "-m", "kit.trainer", "--spec", str(spec)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=trainer_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = parse_events(proc.stdout)
    starts = [e for e in events if e["event"] == "start"]
    assert len(starts) == 1 and starts[0]["device"].endswith("(world 2)")
    steps = [e["step"] for e in events if e["event"] == "step"]
    assert steps == list(range(1, starts[0]["total_steps"] + 1))  # once each, not once per rank
    assert [e["event"] for e in events].count("done") == 1
    records = (output / "metrics.jsonl").read_text().splitlines()
    assert len([r for r in records if json.loads(r)["kind"] == "train"]) == len(steps)
    assert json.loads((output / "summary.json").read_text())["layout"]["world_size"] == 2
    assert (output / "model" / "model.safetensors").is_file() and (output / "adapter").is_dir()


def test_two_processes_serve_the_adapter_of_the_lowest_held_out_loss(tmp_path, tiny_model, data_file):
    """training.select best under torchrun with LoRA: both ranks load the best checkpoint's adapter
    back (transformers' loader), and the adapter written is that checkpoint's."""
    from safetensors.torch import load_file

    from tests.trainer.helpers import write_jsonl
    from tests.trainer.test_trainer_select import HELD_OUT

    output = tmp_path / "out"
    held = write_jsonl(tmp_path / "held.jsonl", [[{"role": "user", "content": q}, {"role": "assistant", "content": a}]
                                                 for q, a in HELD_OUT])
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({
        "run_id": "r", "base_model": str(tiny_model), "data": str(data_file), "output": str(output),
        "eval_data": str(held), "eval": {"generate_examples": 0},
        "training": {"method": "lora", "epochs": 6, "learning_rate": 1e-1, "batch_size": 8, "micro_batch_size": 4,
                     "max_length": 128, "checkpoint_steps": 12, "packing": False}}))
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-port", "29518", "-m", "kit.trainer", "--spec", str(spec)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=trainer_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = parse_events(proc.stdout)
    evals = {e["step"]: e["eval_loss"] for e in events if e["event"] == "eval" and e["step"] > 0}
    [selected] = [e for e in events if e["event"] == "select"]
    assert selected["step"] == min(evals, key=evals.get) < max(evals)   # measured: epoch 3 of 6
    served = load_file(str(output / "adapter" / "adapter_model.safetensors"))
    best = load_file(str(output / "checkpoints" / f"checkpoint-{selected['step']}" / "adapter_model.safetensors"))
    assert served.keys() == best.keys() and all((served[k] == best[k]).all() for k in best)
