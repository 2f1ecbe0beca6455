"""Held-out evaluation, inside the trainer process: nothing leaves the place it trained, and no
external judge is asked.

Before training: the base model's loss on the assistant tokens of the held-out examples, and
its greedy replies to their prompts. After training: the same for the tuned model. Replies are
scored against the held-out references with ROUGE-L (Google's rouge-score) and, where the
references are JSON objects (structured extraction: codes, FHIR fields), by the share of
replies that are valid JSON and of reference fields matched exactly. The base half is written
first (eval-base.json), so a resumed run does not need the base weights again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kit.jsonio import read_json, write_json

BASE_FILE = "eval-base.json"
EVAL_FILE = "eval.json"
SAMPLES_SHOWN = 20
# kit.yaml eval: limits of the generation half (the loss half takes every held-out example).
LIMITS = {"generate_examples": 8, "max_new_tokens": 96}


def limits(options: dict[str, Any]) -> dict[str, int]:
    return {key: int(options.get(key, default)) for key, default in LIMITS.items()}


def prompts_and_references(conversations: list[list[dict[str, str]]]) -> list[tuple[list, str]]:
    """Each held-out conversation as (the messages before its last reply, that reply)."""
    out = []
    for conv in conversations:
        last = max(i for i, m in enumerate(conv) if m["role"] == "assistant")
        out.append((conv[:last], conv[last]["content"]))
    return out


def generate(model: Any, tokenizer: Any, prompts: list[list[dict[str, str]]],
             max_new_tokens: int) -> list[str]:
    """Greedy replies, one prompt at a time (no padding effects), bounded in length."""
    import torch

    replies = []
    was_training = model.training
    model.eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with torch.no_grad():
        for prompt in prompts:
            inputs = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True,
                                                   return_dict=True, return_tensors="pt")
            inputs = {k: v.to(model.device) for k, v in inputs.items()}
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=pad)
            replies.append(tokenizer.decode(out[0, inputs["input_ids"].shape[1]:],
                                            skip_special_tokens=True).strip())
    if was_training:
        model.train()
    return replies


def _json_object(text: str) -> dict | None:
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def score(replies: list[str], references: list[str]) -> dict[str, Any]:
    """ROUGE-L F1 (mean), and for JSON references the valid-JSON and exact-field shares."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    rouge = [scorer.score(ref, reply)["rougeL"].fmeasure for reply, ref in zip(replies, references, strict=True)]
    out: dict[str, Any] = {"rouge_l": round(sum(rouge) / len(rouge), 4) if rouge else None}
    structured = [(reply, _json_object(ref)) for reply, ref in zip(replies, references, strict=True)]
    structured = [(reply, ref) for reply, ref in structured if ref is not None]
    if structured:
        parsed = [(_json_object(reply), ref) for reply, ref in structured]
        fields = [(got or {}).get(key) == value for got, ref in parsed for key, value in ref.items()]
        out["json_valid"] = round(sum(got is not None for got, _ in parsed) / len(parsed), 4)
        out["json_fields"] = round(sum(fields) / len(fields), 4) if fields else None
    return out


def base_half(output: Path, trainer: Any, tokenizer: Any, held_out: list, options: dict[str, Any],
              generate_replies: bool) -> dict[str, Any]:
    """The base model's loss and replies, computed once per run (kept for a resume)."""
    path = output / BASE_FILE
    saved = read_json(path)
    if saved is not None:
        return saved
    bounds = limits(options)
    pairs = prompts_and_references(held_out)[: bounds["generate_examples"]]
    result = {"loss": trainer.evaluate()["eval_loss"], "examples": len(held_out),
              "replies": generate(trainer.model, tokenizer, [p for p, _ in pairs],
                                  bounds["max_new_tokens"]) if generate_replies and pairs else None}
    if trainer.is_world_process_zero():
        write_json(path, result)
    return result


def _final_eval(trainer: Any) -> float | None:
    """The held-out loss logged at the last step (the last epoch's evaluation), if any. From
    the trainer's log history, which every process keeps: all ranks decide alike whether to
    evaluate again (an evaluation is a collective call)."""
    step = trainer.state.global_step
    found = [e["eval_loss"] for e in trainer.state.log_history
             if "eval_loss" in e and e.get("step") == step]
    return found[-1] if found else None


def tuned_half(output: Path, trainer: Any, tokenizer: Any, held_out: list, options: dict[str, Any],
               base: dict[str, Any], generate_replies: bool) -> dict[str, Any]:
    """The tuned model's loss and replies, scored beside the base's: eval.json."""
    bounds = limits(options)
    pairs = prompts_and_references(held_out)[: bounds["generate_examples"]]
    tuned_loss = _final_eval(trainer)
    if tuned_loss is None:
        tuned_loss = trainer.evaluate()["eval_loss"]
    result: dict[str, Any] = {"examples": base["examples"], "base_loss": round(base["loss"], 5),
                              "tuned_loss": round(tuned_loss, 5), "generation": None}
    if generate_replies and base.get("replies") is not None and pairs:
        replies = generate(trainer.model, tokenizer, [p for p, _ in pairs], bounds["max_new_tokens"])
        references = [r for _, r in pairs]
        result["generation"] = {"examples": len(pairs), "max_new_tokens": bounds["max_new_tokens"],
                                "base": score(base["replies"], references),
                                "tuned": score(replies, references)}
        result["samples"] = [
            {"prompt": prompt[-1]["content"] if prompt else "", "reference": ref, "base": b, "tuned": t}
            for (prompt, ref), b, t in zip(pairs, base["replies"], replies, strict=True)][:SAMPLES_SHOWN]
    if trainer.is_world_process_zero():
        write_json(output / EVAL_FILE, result)
    return result
