"""What a run's held-out evaluation says, in words for a reader who is not an engineer: what each
number means and which way is better, which checkpoint is served and why, the gate's verdict
worded as exactly what it checks, and per-example scores with flags on degenerate replies.

One set of facts, plain data: `kit eval` prints it (text_lines), the report page renders it
(kit.eval_report), `--output json` returns it. Pure functions over eval.json and the run record;
nothing here calls a model.

Flags on a reply:
- repeats itself: its n-gram repetition ratio, 1 - unique 4-grams / all 4-grams of its words
  (seq-rep-4 of Welleck et al., "Neural Text Generation with Unlikelihood Training", 2019,
  arXiv:1908.04319, read 2026-12-07 at https://www.arxiv-vanity.com/papers/1908.04319), is at
  least REPEAT_THRESHOLD. The threshold is the kit's choice: half of the reply's 4-word
  sequences already occurred earlier in it ("Appeals Appeals Appeals ..." scores close to 1).
- cut at the limit: generation reached eval.max_new_tokens without an end-of-turn token (the
  trainer records this per reply; replies from an older kit carry no length and are not judged).
- empty: nothing but whitespace.
"""

from __future__ import annotations

from typing import Any

REPEAT_N = 4
REPEAT_THRESHOLD = 0.5
CAVEAT = "This does not show the answers are correct: read the examples below."

# key, name, what it means, which way is better
METRICS = (
    ("loss", "Held-out loss",
     "How unlikely the model finds the reference answers of examples it never trained on "
     "(average per word piece). It measures wording, not correctness.", "lower"),
    ("rouge_l", "Word overlap with the reference (ROUGE-L)",
     "From 0 to 1: how much of the reference answer the reply repeats, words in the same order.",
     "higher"),
    ("json_valid", "Valid JSON",
     "From 0 to 1: share of replies that are a JSON object, where the reference answer is one.",
     "higher"),
    ("json_fields", "JSON fields exact",
     "From 0 to 1: share of the reference's JSON fields the reply gives with exactly the same value.",
     "higher"),
)
FLAG_RULES = (f"Flags: 'repeats itself' when at least {REPEAT_THRESHOLD:.0%} of a reply's "
              f"{REPEAT_N}-word sequences already occurred earlier in it; 'cut at the limit' when "
              "it reached the token limit without finishing; 'empty' when it has no text.")


def repetition(text: str, n: int = REPEAT_N) -> float | None:
    """1 - unique n-grams / n-grams of the reply's words; None when it has no n-gram."""
    words = text.lower().split()
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return round(1 - len(set(grams)) / len(grams), 4) if grams else None


def flags(reply: str, length: dict[str, Any] | None, max_new_tokens: int | None) -> list[str]:
    """The degenerate-reply flags of one reply (see the module docstring)."""
    found = []
    if not reply.strip():
        found.append("empty")
    ratio = repetition(reply)
    if ratio is not None and ratio >= REPEAT_THRESHOLD:
        found.append(f"repeats itself ({ratio:.0%} of its {REPEAT_N}-word sequences are repeats)")
    if length and length.get("cut"):
        found.append(f"cut at the limit ({max_new_tokens} tokens)" if max_new_tokens else "cut at the limit")
    return found


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _side(held: dict[str, Any] | None, side: str) -> dict[str, Any]:
    if not held:
        return {}
    return {"loss": held.get(f"{side}_loss"), **((held.get("generation") or {}).get(side) or {})}


def _change(base: Any, tuned: Any, better: str) -> str:
    if not isinstance(base, (int, float)) or not isinstance(tuned, (int, float)):
        return "-"
    if tuned == base:
        return "same"
    return "better" if (tuned < base) == (better == "lower") else "worse"


def metric_rows(held: dict[str, Any], serving_held: dict[str, Any] | None) -> list[dict[str, str]]:
    base, tuned, other = _side(held, "base"), _side(held, "tuned"), _side(serving_held, "tuned")
    return [{"key": key, "name": name, "meaning": meaning, "better": f"{better} is better",
             "base": _num(base.get(key)), "tuned": _num(tuned.get(key)), "serving": _num(other.get(key)),
             "change": _change(base.get(key), tuned.get(key), better)}
            for key, name, meaning, better in METRICS if key in base or key in tuned]


def _moved(base: float, tuned: float) -> str:
    word = "fell" if tuned < base else "rose" if tuned > base else "stayed"
    return f"held-out loss {word} from {base:.4f} to {tuned:.4f}" if word != "stayed" else \
        f"held-out loss stayed at {tuned:.4f}"


def verdict(run: dict[str, Any], held: dict[str, Any]) -> dict[str, str]:
    """The gate's verdict, worded as exactly what it checks."""
    judged = run.get("eval") or {}
    base, tuned = held.get("base_loss"), held.get("tuned_loss")
    ratio = judged.get("max_loss_ratio", 1.0)
    bar = "no higher than the starting model's" if ratio == 1 else f"at most {ratio:g} times the starting model's"
    if run.get("status") == "rejected":
        if base is None or tuned is None:
            return {"cls": "rejected", "text": f"Rejected, not served: {run.get('reason')}."}
        return {"cls": "rejected", "text": f"Rejected, not served: {_moved(base, tuned)}; the check asks "
                                           f"for {bar}."}
    if judged.get("passed") is None:
        return {"cls": "unjudged", "text": "Not judged: the evaluation check has not looked at this run "
                                           "yet (it does when the run is trained, settled or served)."}
    if judged.get("passed") is False:
        return {"cls": "rejected", "text": f"Worse than the starting model: {_moved(base, tuned)}. The "
                                           "check is switched off (eval.gate: false), so it may be served."}
    return {"cls": "passed", "text": f"Passed the check: {_moved(base, tuned)} (the check asks for {bar}). "
                                     + CAVEAT}


def checkpoint(run: dict[str, Any]) -> str:
    """Which checkpoint the run kept (training.select) and why, in a sentence."""
    sel = (run.get("metrics") or {}).get("selection")
    if not sel:
        return "The model kept is the one at the end of training (this run predates checkpoint selection)."
    where = f"epoch {sel['epoch']:g} (step {sel['step']})" if sel.get("epoch") else f"step {sel['step']}"
    if sel.get("eval_loss") is None:
        return f"The model kept is the one at the end of training, {where}: it was not evaluated during training."
    if sel["mode"] == "last":
        best = sel["reason"].partition("; ")[2]
        return (f"The model kept is the one at the end of training, {where} (training.select: last), "
                f"held-out loss {sel['eval_loss']:.4f}" + (f"; {best}." if best else "."))
    if sel["step"] == sel["last_step"]:
        return (f"The model kept is the one after {where}, the end of training, which had the lowest "
                f"held-out loss ({sel['eval_loss']:.4f}).")
    last = f"{sel['last_eval_loss']:.4f}" if sel.get("last_eval_loss") is not None else "not measured"
    return (f"The model kept is the one after {where}, not the end of training: its held-out loss "
            f"({sel['eval_loss']:.4f}) was the lowest; at the end it was {last}.")


def examples(held: dict[str, Any]) -> list[dict[str, Any]]:
    cap = (held.get("generation") or {}).get("max_new_tokens")
    out = []
    for number, sample in enumerate(held.get("samples") or [], start=1):
        scores, lengths = sample.get("scores") or {}, sample.get("lengths") or {}
        out.append({"number": number, "prompt": sample["prompt"], "reference": sample["reference"],
                    **{side: {"reply": sample[side], "rouge_l": (scores.get(side) or {}).get("rouge_l"),
                              "json_fields": (scores.get(side) or {}).get("json_fields"),
                              "flags": flags(sample[side], lengths.get(side), cap),
                              "length_known": lengths.get(side) is not None}
                       for side in ("base", "tuned")}})
    return out


def flag_counts(rows: list[dict[str, Any]], side: str) -> str:
    if not rows:
        return ""
    who = "starting model" if side == "base" else "fine-tuned model"
    kinds = ("repeats itself", "cut at the limit", "empty")
    counts = [f"{sum(any(f.startswith(k) for f in r[side]['flags']) for r in rows)} of {len(rows)} {k}"
              for k in kinds]
    if not any(r[side]["length_known"] for r in rows):   # eval.json of an older kit: no lengths
        counts[1] = "cut at the limit not recorded"
    return f"Replies of the {who}: " + ", ".join(counts) + "."


def facts(run: dict[str, Any], held: dict[str, Any], serving: dict[str, Any] | None = None,
          serving_held: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the report says, as plain data."""
    rows = examples(held)
    serving_id = serving.get("id") if serving else None
    return {
        "title": f"Run {run['id']}: the fine-tuned model against the model it started from",
        "about": (f"A {run.get('method')} fine-tune of {run.get('base_model')}, measured on {held.get('examples', 0)} "
                  "held-out example(s) it never trained on, where it trained; no outside model judged it."),
        "serving": (f"The endpoint now serves run {serving_id}." if serving_id else "Nothing is being served."),
        "verdict": verdict(run, held),
        "checkpoint": checkpoint(run),
        "metrics": metric_rows(held, serving_held if serving_id and serving_id != run["id"] else None),
        "serving_column": serving_id if serving_id and serving_id != run["id"] else None,
        "examples": rows,
        "flag_counts": [c for c in (flag_counts(rows, "base"), flag_counts(rows, "tuned")) if c],
        "flag_rules": FLAG_RULES if rows else "",
    }


def _reply(side: dict[str, Any]) -> str:
    score = f"overlap {side['rouge_l']:.2f}" if isinstance(side.get("rouge_l"), (int, float)) else "overlap -"
    if isinstance(side.get("json_fields"), (int, float)):
        score += f", JSON fields {side['json_fields']:.2f}"
    marks = f" [{'; '.join(side['flags'])}]" if side["flags"] else ""
    return f"({score}){marks} {side['reply']}"


def text_lines(f: dict[str, Any]) -> list[str]:
    """The same facts as the page, for a terminal."""
    lines = [f["title"], f["about"], f["serving"], "", f["verdict"]["text"], f["checkpoint"], ""]
    for row in f["metrics"]:
        serving = f"   run {f['serving_column']}: {row['serving']}" if f["serving_column"] else ""
        lines += [f"{row['name']} ({row['better']}): starting model {row['base']}, fine-tuned {row['tuned']} "
                  f"({row['change']}){serving}", f"  {row['meaning']}"]
    if f["examples"]:
        lines += ["", *f["flag_counts"], f["flag_rules"]]
        for ex in f["examples"]:
            lines += ["", f"Example {ex['number']}: {ex['prompt']}", f"  reference: {ex['reference']}",
                      f"  starting model {_reply(ex['base'])}", f"  fine-tuned {_reply(ex['tuned'])}"]
    return lines
