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
             max_new_tokens: int) -> tuple[list[str], list[dict[str, Any]]]:
    """Greedy replies, one prompt at a time (no padding effects), bounded in length; and for
    each, how many tokens it took and whether it was cut at `max_new_tokens` (it reached the cap
    without an end-of-turn token)."""
    import torch

    replies, lengths = [], []
    was_training = model.training
    model.eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stops = model.generation_config.eos_token_id if model.generation_config is not None else None
    stops = set([stops] if isinstance(stops, int) else stops or []) | {tokenizer.eos_token_id}
    with torch.no_grad():
        for prompt in prompts:
            inputs = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True,
                                                   return_dict=True, return_tensors="pt")
            inputs = {k: v.to(model.device) for k, v in inputs.items()}
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=pad)
            new = out[0, inputs["input_ids"].shape[1]:].tolist()
            replies.append(tokenizer.decode(new, skip_special_tokens=True).strip())
            lengths.append({"tokens": len(new), "cut": len(new) >= max_new_tokens and new[-1] not in stops})
    if was_training:
        model.train()
    return replies, lengths


def _json_object(text: str) -> dict | None:
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def example_scores(reply: str, reference: str, scorer: Any) -> dict[str, Any]:
    """One reply against its reference: ROUGE-L F1, and where the reference is a JSON object,
    whether the reply is one and the share of the reference's fields it matches exactly."""
    out: dict[str, Any] = {"rouge_l": round(scorer.score(reference, reply)["rougeL"].fmeasure, 4)}
    ref = _json_object(reference)
    if ref is not None:
        got = _json_object(reply)
        out["json_valid"] = got is not None
        out["json_fields"] = [(got or {}).get(key) == value for key, value in ref.items()]
    return out


def score(replies: list[str], references: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """ROUGE-L F1 (mean), and for JSON references the valid-JSON and exact-field shares; and
    the same per example."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    each = [example_scores(reply, ref, scorer) for reply, ref in zip(replies, references, strict=True)]
    rouge = [e["rouge_l"] for e in each]
    out: dict[str, Any] = {"rouge_l": round(sum(rouge) / len(rouge), 4) if rouge else None}
    structured = [e for e in each if "json_valid" in e]
    if structured:
        fields = [hit for e in structured for hit in e["json_fields"]]
        out["json_valid"] = round(sum(e["json_valid"] for e in structured) / len(structured), 4)
        out["json_fields"] = round(sum(fields) / len(fields), 4) if fields else None
    per_example = [{**e, "json_valid": 1.0 if e["json_valid"] else 0.0,
                    "json_fields": round(sum(e["json_fields"]) / len(e["json_fields"]), 4)
                    if e["json_fields"] else None} if "json_valid" in e else e for e in each]
    return out, per_example


def base_half(output: Path, trainer: Any, tokenizer: Any, held_out: list, options: dict[str, Any],
              generate_replies: bool) -> dict[str, Any]:
    """The base model's loss and replies, computed once per run (kept for a resume)."""
    path = output / BASE_FILE
    saved = read_json(path)
    if saved is not None:
        return saved
    bounds = limits(options)
    pairs = prompts_and_references(held_out)[: bounds["generate_examples"]]
    replies, lengths = (generate(trainer.model, tokenizer, [p for p, _ in pairs], bounds["max_new_tokens"])
                        if generate_replies and pairs else (None, None))
    result = {"loss": trainer.evaluate()["eval_loss"], "examples": len(held_out), "replies": replies,
              "lengths": lengths}
    if trainer.is_world_process_zero():
        write_json(path, result)
    return result


def _logged_eval(trainer: Any, step: int) -> float | None:
    """The held-out loss logged at `step` (the selected checkpoint's evaluation), if any. From
    the trainer's log history, which every process keeps: all ranks decide alike whether to
    evaluate again (an evaluation is a collective call)."""
    found = [e["eval_loss"] for e in trainer.state.log_history
             if "eval_loss" in e and e.get("step") == step]
    return found[-1] if found else None


def tuned_half(output: Path, trainer: Any, tokenizer: Any, held_out: list, options: dict[str, Any],
               base: dict[str, Any], generate_replies: bool, step: int) -> dict[str, Any]:
    """The tuned model's loss and replies, scored beside the base's: eval.json. The model is
    the checkpoint kept at `step` (training.select), already loaded into the trainer."""
    bounds = limits(options)
    pairs = prompts_and_references(held_out)[: bounds["generate_examples"]]
    tuned_loss = _logged_eval(trainer, step)
    if tuned_loss is None:
        tuned_loss = trainer.evaluate()["eval_loss"]
    result: dict[str, Any] = {"examples": base["examples"], "base_loss": round(base["loss"], 5),
                              "tuned_loss": round(tuned_loss, 5), "step": step, "generation": None}
    if generate_replies and base.get("replies") is not None and pairs:
        replies, lengths = generate(trainer.model, tokenizer, [p for p, _ in pairs], bounds["max_new_tokens"])
        references = [r for _, r in pairs]
        base_scores, base_each = score(base["replies"], references)
        tuned_scores, tuned_each = score(replies, references)
        result["generation"] = {"examples": len(pairs), "max_new_tokens": bounds["max_new_tokens"],
                                "base": base_scores, "tuned": tuned_scores}
        base_lengths = base.get("lengths") or [None] * len(pairs)  # None: a base half from an older kit
        result["samples"] = [
            {"prompt": prompt[-1]["content"] if prompt else "", "reference": ref, "base": b, "tuned": t,
             "scores": {"base": bs, "tuned": ts}, "lengths": {"base": bl, "tuned": tl}}
            for (prompt, ref), b, t, bs, ts, bl, tl in zip(pairs, base["replies"], replies, base_each, tuned_each,
                                                          base_lengths, lengths, strict=True)][:SAMPLES_SHOWN]
    if trainer.is_world_process_zero():
        write_json(output / EVAL_FILE, result)
    return result
