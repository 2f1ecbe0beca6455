"""`python -m kit.trainer` end to end on CPU: full, LoRA (QLoRA where a GPU exists), errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from kit.trainer import chat
from kit.trainer.events import EXIT_BAD_DATA, EXIT_FAILED
from tests.trainer.helpers import conversations, run_trainer, write_jsonl, write_spec

FAST = {"batch_size": 2, "micro_batch_size": 2, "max_length": 128, "eval_fraction": 0.1, "epochs": 6}


def _check_success(run, output: Path, method: str) -> dict:
    assert run.returncode == 0, run.stderr[-3000:]
    assert [e["event"] for e in run.events][0] == "start" and run.events[-1]["event"] == "done"
    start, steps = run.of("start")[0], run.of("step")
    assert start["method"] == method and start["resumed_from_step"] == 0 and start["examples"] == 36
    assert [s["step"] for s in steps] == list(range(1, start["total_steps"] + 1))
    assert all(s["tokens_per_s"] and s["eta_s"] >= 0 and s["lr"] >= 0 for s in steps)
    # Held-out loss of the base model (step 0), then once per epoch on the held-out 10%.
    assert [e["step"] for e in run.of("eval")][0] == 0
    assert len(run.of("eval")) == FAST["epochs"] + 1
    summary = json.loads((output / "summary.json").read_text())
    assert summary["status"] == "succeeded" and summary["method"] == method
    assert summary["metrics"] == run.of("done")[0]["metrics"]
    assert summary["metrics"]["steps"] == start["total_steps"]
    assert max(s["lr"] for s in steps) == pytest.approx(summary["settings"]["learning_rate"])
    lines = (output / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == start["total_steps"] + FAST["epochs"] + 1
    held_out = json.loads((output / "eval.json").read_text())
    assert summary["metrics"]["eval"] == {k: v for k, v in held_out.items() if k != "samples"}
    assert held_out["examples"] == 4 and held_out["tuned_loss"] < held_out["base_loss"]
    # training.select best (the default): the reported (and served) loss is the lowest epoch's
    evals = {e["step"]: e["eval_loss"] for e in run.of("eval") if e["step"] > 0}
    selected = summary["metrics"]["selection"]
    assert selected["step"] == min(evals, key=evals.get) == held_out["step"]
    assert held_out["tuned_loss"] == pytest.approx(min(evals.values()), abs=1e-4)
    generation = held_out["generation"]
    assert generation["examples"] == 4 and 0 <= generation["base"]["rouge_l"] <= 1
    assert generation["tuned"]["rouge_l"] > generation["base"]["rouge_l"]
    samples = held_out["samples"]
    assert [set(s) for s in samples] == [{"prompt", "reference", "base", "tuned", "scores", "lengths"}] * 4
    # per-example scores average to the run's; each reply's length and whether the cap cut it
    each = [s["scores"]["tuned"]["rouge_l"] for s in samples]
    assert sum(each) / len(each) == pytest.approx(generation["tuned"]["rouge_l"], abs=1e-3)
    cap = generation["max_new_tokens"]
    for side in ("base", "tuned"):
        assert all(0 < s["lengths"][side]["tokens"] <= cap for s in samples)
        assert all(s["lengths"][side]["tokens"] == cap for s in samples if s["lengths"][side]["cut"])
    return summary["metrics"]


def _check_model(output: Path, base: Path):
    """The merged model loads with plain transformers, generates, and its tokenizer renders a
    conversation to exactly the text (and tokens) the trainer trained on."""
    model_dir = output / "model"
    assert (model_dir / "model.safetensors").is_file() and (model_dir / "generation_config.json").is_file()
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    base_tok = AutoTokenizer.from_pretrained(base)
    trained_with = chat.plan(base_tok).training
    for conv in conversations(6):
        assert tok.apply_chat_template(conv, tokenize=False) == chat.render(trained_with, conv, base_tok)
        assert (tok.apply_chat_template(conv, tokenize=True, return_dict=True)["input_ids"]
                == base_tok.apply_chat_template(conv, chat_template=trained_with, tokenize=True,
                                                return_dict=True)["input_ids"])
    config = json.loads((model_dir / "tokenizer_config.json").read_text())
    assert config["chat_template"] == tok.chat_template == (model_dir / "chat_template.jinja").read_text()
    assert not chat.has_markers(tok.chat_template)  # servable by minijinja (TGI)
    prompt = tok.apply_chat_template([{"role": "user", "content": "How is hypertension coded?"}],
                                     add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > prompt["input_ids"].shape[1]
    assert isinstance(tok.decode(out[0, prompt["input_ids"].shape[1]:]), str)


def test_full_fine_tune_lowers_the_loss_and_writes_a_servable_model(tmp_path, tiny_model, data_file):
    output = tmp_path / "out"
    spec = write_spec(tmp_path, tiny_model, data_file, output,
                      {"method": "full", "learning_rate": 3e-3, "min_learning_rate": 3e-4, **FAST})
    metrics = _check_success(run_trainer(spec), output, "full")
    assert metrics["loss_last"] < metrics["loss_first"] - 2.0  # 7.4 -> ~0.5 on this data
    assert metrics["eval_loss"] < metrics["loss_first"] - 2.0
    assert not (output / "adapter").exists()
    _check_model(output, tiny_model)


def test_lora_on_a_base_model_writes_adapter_and_merged_model_and_uploads(tmp_path, base_model_no_template,
                                                                         data_file):
    output, remote = tmp_path / "out", tmp_path / "bucket"
    spec = write_spec(tmp_path, base_model_no_template, data_file, output,
                      {"method": "lora", "learning_rate": 2e-2, "min_learning_rate": 2e-3, **FAST})
    raw = json.loads(spec.read_text())
    spec.write_text(json.dumps({**raw, "upload_uri": remote.as_uri()}))
    metrics = _check_success(run_trainer(spec), output, "lora")
    assert metrics["loss_last"] < metrics["loss_first"] - 2.0
    adapter = json.loads((output / "adapter" / "adapter_config.json").read_text())
    assert adapter["r"] == 16 and adapter["peft_type"] == "LORA"
    _check_model(output, base_model_no_template)
    assert json.loads((output / "summary.json").read_text())["chat_template"] == "kit:base.jinja"
    assert (remote / "summary.json").read_text() == (output / "summary.json").read_text()
    assert (remote / "model" / "model.safetensors").is_file()


def test_qlora(tmp_path, tiny_model, data_file):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("QLoRA needs bitsandbytes' 4-bit CUDA kernels and this machine has no GPU")
    pytest.importorskip("bitsandbytes", reason="bitsandbytes is not installed")
    output = tmp_path / "out"
    spec = write_spec(tmp_path, tiny_model, data_file, output,
                      {"method": "qlora", "learning_rate": 2e-2, **FAST})
    metrics = _check_success(run_trainer(spec), output, "qlora")
    assert metrics["loss_last"] < metrics["loss_first"]
    _check_model(output, tiny_model)


def test_qlora_without_a_gpu_is_a_clear_error(tmp_path, tiny_model, data_file):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    spec = write_spec(tmp_path, tiny_model, data_file, tmp_path / "out", {"method": "qlora", **FAST})
    run = run_trainer(spec)
    assert run.returncode == EXIT_FAILED
    assert run.events[-1]["event"] == "error" and "needs a CUDA GPU" in run.events[-1]["message"]


def test_bad_data_exits_3_with_a_one_line_reason(tmp_path, tiny_model):
    data = write_jsonl(tmp_path / "data.jsonl", conversations(4))
    with data.open("a") as fh:
        fh.write("{not json\n")
    spec = write_spec(tmp_path, tiny_model, data, tmp_path / "out", {"method": "full", **FAST})
    run = run_trainer(spec)
    assert run.returncode == EXIT_BAD_DATA
    untimed = [{k: v for k, v in e.items() if k != "time"} for e in run.events]
    assert untimed == [{"event": "error", "kind": "data", "message": run.events[0]["message"]}]
    assert "data.jsonl:5" in run.events[0]["message"]
    assert not (tmp_path / "out" / "summary.json").exists()


def test_bad_spec_exits_1(tmp_path, tiny_model, data_file):
    spec = write_spec(tmp_path, tiny_model, data_file, tmp_path / "out", {"method": "full", "epochz": 2})
    run = run_trainer(spec)
    assert run.returncode == EXIT_FAILED
    assert run.events[-1]["kind"] == "other" and "training.epochz" in run.events[-1]["message"]


def test_a_fixed_held_out_set_is_judged_and_nothing_is_split_off(tmp_path, tiny_model, data_file):
    """eval.uri: every training example is trained on; the fixed set is what the base and the
    tuned model are scored on."""
    held = write_jsonl(tmp_path / "held.jsonl", conversations(3))
    output = tmp_path / "out"
    spec = write_spec(tmp_path, tiny_model, data_file, output,
                      {"method": "full", "learning_rate": 3e-3, **{**FAST, "epochs": 2}})
    raw = json.loads(spec.read_text())
    spec.write_text(json.dumps({**raw, "eval_data": str(held), "eval": {"generate_examples": 1,
                                                                        "max_new_tokens": 4}}))
    run = run_trainer(spec)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.of("start")[0]["examples"] == 40                    # none split off
    result = json.loads((output / "eval.json").read_text())
    assert result["examples"] == 3 and result["generation"]["examples"] == 1
    assert result["tuned_loss"] < result["base_loss"]
