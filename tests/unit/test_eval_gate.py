"""The evaluation gate (kit.pipeline.gate) and the report (kit.eval_report): a run that did worse than
its base model on held-out examples is rejected and not served; the report shows why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kit.config import parse
from kit.errors import KitError
from kit.pipeline.gate import check_held_out, check_servable, enforce, judge
from kit.pipeline.ledger import REJECTED, SUCCEEDED, Run

HELD = {"examples": 5, "base_loss": 8.0, "tuned_loss": 5.0,
        "generation": {"examples": 2, "max_new_tokens": 8,
                       "base": {"rouge_l": 0.01, "json_valid": 0.0, "json_fields": 0.0},
                       "tuned": {"rouge_l": 0.4, "json_valid": 1.0, "json_fields": 0.5}}}
SAMPLES = [{"prompt": "Code <b>this</b> visit", "reference": '{"cpt": "99213"}',
            "base": "word salad", "tuned": '{"cpt": "99213"}',
            "scores": {"base": {"rouge_l": 0.0, "json_valid": 0.0, "json_fields": 0.0},
                       "tuned": {"rouge_l": 1.0, "json_valid": 1.0, "json_fields": 1.0}},
            "lengths": {"base": {"tokens": 3, "cut": False}, "tuned": {"tokens": 6, "cut": False}}},
           {"prompt": "Summarise", "reference": "In plain terms: ...", "base": "x", "tuned": "In plain",
            "scores": {"base": {"rouge_l": 0.0}, "tuned": {"rouge_l": 0.8}},
            "lengths": {"base": {"tokens": 1, "cut": False}, "tuned": {"tokens": 3, "cut": False}}}]


def cfg(tmp_path: Path, **eval_options):
    return parse({"name": "acme", "target": "local", "model": {"id": "demo:tiny-llama"},
                  "data": {"uri": "data.jsonl"}, "eval": eval_options}, base_dir=tmp_path)


def run(held: dict | None = HELD, status: str = SUCCEEDED) -> Run:
    return Run(id="run-2", fingerprint="f", status=status, created=0.0, base_model="m",
               method="lora", metrics={"eval": held} if held else {})


def test_a_run_that_beats_its_base_passes(tmp_path):
    r = run()
    assert judge(cfg(tmp_path), r) is None
    assert r.status == SUCCEEDED and r.eval["passed"] is True and r.eval["tuned_loss"] == 5.0
    enforce(cfg(tmp_path), r, "run-1")          # nothing raised


def test_a_run_worse_than_the_ratio_allows_is_rejected_and_not_served(tmp_path):
    r = run()
    reason = judge(cfg(tmp_path, max_loss_ratio=0.5), r)
    assert reason == "held-out loss 5.0000 > eval.max_loss_ratio 0.5 x base model's 8.0000"
    assert r.status == REJECTED and r.reason == reason and r.eval["passed"] is False
    with pytest.raises(KitError, match=r"run run-2 rejected by the evaluation gate: held-out loss "
                                       r"5.0000 > .*; the endpoint keeps serving run run-1") as err:
        enforce(cfg(tmp_path), r, "run-1")
    assert "kit serve --run run-2 --force" in err.value.hint
    with pytest.raises(KitError, match="was rejected by the evaluation gate"):
        check_servable(r, force=False)
    check_servable(r, force=True)


def test_a_relaxed_ratio_rejudges_without_training(tmp_path):
    r = run()
    judge(cfg(tmp_path, max_loss_ratio=0.5), r)
    assert judge(cfg(tmp_path, max_loss_ratio=1.0), r) is None and r.status == SUCCEEDED


def test_with_the_gate_off_a_worse_run_is_served_but_marked(tmp_path):
    r = run({**HELD, "tuned_loss": 9.0})
    assert judge(cfg(tmp_path, gate=False), r) is None
    assert r.status == SUCCEEDED and r.eval["passed"] is False


def test_no_held_out_examples_cannot_pass_the_gate(tmp_path):
    r = run(held={"examples": 0, "base_loss": None, "tuned_loss": None, "generation": None})
    assert "no held-out examples" in judge(cfg(tmp_path), r)
    assert r.status == REJECTED


def test_a_run_from_before_the_evaluation_is_left_as_it_was(tmp_path):
    """Upgrading: a run trained by an older kit has no evaluation; it is neither rejected nor
    passed, and keeps serving."""
    r = run(held=None)
    assert judge(cfg(tmp_path), r) is None
    assert r.status == SUCCEEDED and r.eval["passed"] is None
    check_servable(r, force=False)


@pytest.mark.parametrize(("examples", "options", "fails"), [
    (50, {"training": {"eval_fraction": 0}}, True),
    (5, {}, True),                                        # 5 x 0.05 rounds to nothing
    (50, {}, False),
    (50, {"training": {"eval_fraction": 0}, "eval": {"uri": "held.jsonl"}}, False),
    (50, {"training": {"eval_fraction": 0}, "eval": {"gate": False}}, False),
])
def test_the_gate_needs_held_out_examples_before_any_training(tmp_path, examples, options, fails):
    config = parse({"name": "acme", "target": "local", "model": {"id": "demo:tiny-llama"},
                    "data": {"uri": "data.jsonl"}, **options}, base_dir=tmp_path)
    if fails:
        with pytest.raises(KitError, match=rf"eval.gate: {examples} examples x "
                                           r"training.eval_fraction .* leaves no held-out example"):
            check_held_out(config, examples)
    else:
        check_held_out(config, examples)


def write_run(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "eval.json").write_text(json.dumps({**HELD, "samples": SAMPLES}))
    records = ([{"kind": "eval", "step": 0, "eval_loss": 8.0}]
               + [{"kind": "train", "step": s, "loss": 8.0 - s * 0.3} for s in range(1, 11)]
               + [{"kind": "eval", "step": 10, "eval_loss": 5.0}])
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def report(tmp_path: Path) -> str:
    from kit import eval_report

    folder = tmp_path / "runs" / "run-2"
    write_run(folder)
    held, records = eval_report.load(folder.as_uri() + "/")
    r = run()
    judge(cfg(tmp_path), r)
    page = eval_report.page(r.__dict__, held, records, None, None)
    eval_report.save(folder.as_uri() + "/", page)
    return (folder / "report.html").read_text()


def test_the_report_has_the_metrics_the_plot_and_the_prompts_escaped(tmp_path):
    page = report(tmp_path)
    assert 'id="loss-plot"' in page and 'class="train"' in page and 'class="held-out"' in page
    assert "<td class=\"num\">0.4000</td>" in page and "JSON fields exact" in page
    assert "Code &lt;b&gt;this&lt;/b&gt; visit" in page and "<b>this</b>" not in page
    assert page.count("<tr><td>") == len(SAMPLES) + 4     # 4 metric rows, one per sample


CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")


@pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"), reason="no headless chromium")
def test_the_report_renders_in_a_browser(tmp_path):
    """Chromium (headless) lays the page out: the plot's lines and the side-by-side rows are in
    the DOM it built, and its screenshot is a real image."""
    assert CHROMIUM, "CI installs chromium-headless-shell (.ci/run)"
    report(tmp_path)
    url = (tmp_path / "runs" / "run-2" / "report.html").as_uri()
    flags = ["--no-sandbox", "--disable-gpu", "--window-size=1200,1400"]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert dom.count("<polyline") == 2 and dom.count("<circle") == 2
    assert 'id="samples"' in dom and dom.count("In plain") == 2
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", url], capture_output=True,
                   timeout=120, check=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 1400)


def _facts_and_page(tmp_path: Path, samples: list, selection: dict | None = None, held: dict = HELD):
    """The facts, the text `kit eval` prints, and the page (its text, as a reader sees it)."""
    import html
    import re

    from kit import eval_facts, eval_report

    r = run(held)
    if selection:
        r.metrics["selection"] = selection
    judge(cfg(tmp_path), r)
    full = {**held, "samples": samples}
    records = [{"kind": "eval", "step": 0, "eval_loss": 8.0}, {"kind": "train", "step": 20, "loss": 4.0},
               {"kind": "eval", "step": 10, "eval_loss": 5.0}, {"kind": "eval", "step": 20, "eval_loss": 5.5}]
    found = eval_facts.facts(r.__dict__, full)
    text = "\n".join(eval_facts.text_lines(found))
    page = eval_report.page(r.__dict__, full, records, None, None)
    body = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.split("<body>")[1])))
    return found, " ".join(text.split()), body, page


DEGENERATE = [
    {"prompt": "Which office handles appeals?", "reference": "The appeals office on floor 2.",
     "base": "I am not sure.", "tuned": "Appeals " * 24, "scores": {"base": {"rouge_l": 0.0},
                                                                    "tuned": {"rouge_l": 0.1}},
     "lengths": {"base": {"tokens": 5, "cut": False}, "tuned": {"tokens": 8, "cut": True}}},
    {"prompt": "Say hi", "reference": "Hello.", "base": "Hello there, how can I help you today?",
     "tuned": "  ", "scores": {"base": {"rouge_l": 0.2}, "tuned": {"rouge_l": 0.0}},
     "lengths": {"base": {"tokens": 9, "cut": False}, "tuned": {"tokens": 1, "cut": False}}},
]


def test_degenerate_replies_are_flagged_with_the_measured_ratio_and_the_rule(tmp_path):
    from kit.eval_facts import REPEAT_THRESHOLD, repetition

    assert repetition("Appeals " * 24) == pytest.approx(1 - 1 / 21, abs=1e-4)
    assert repetition("The appeals office is on the second floor, next to billing.") == 0.0
    found, text, body, _ = _facts_and_page(tmp_path, DEGENERATE)
    first, second = found["examples"]
    assert first["tuned"]["flags"] == ["repeats itself (95% of its 4-word sequences are repeats)",
                                       "cut at the limit (8 tokens)"]
    assert first["base"]["flags"] == [] and second["base"]["flags"] == [] and second["tuned"]["flags"] == ["empty"]
    assert found["flag_counts"][1] == ("Replies of the fine-tuned model: 1 of 2 repeats itself, "
                                       "1 of 2 cut at the limit, 1 of 2 empty.")
    assert f"at least {REPEAT_THRESHOLD:.0%} of a reply's 4-word sequences" in found["flag_rules"]
    for fact in [*first["tuned"]["flags"], "empty", *found["flag_counts"], found["flag_rules"]]:
        assert fact in text and fact in body


def test_the_report_says_what_each_number_means_which_way_is_better_and_scores_each_example(tmp_path):
    found, text, body, page = _facts_and_page(tmp_path, SAMPLES)
    rows = {row["key"]: row for row in found["metrics"]}
    assert (rows["loss"]["better"], rows["loss"]["change"]) == ("lower is better", "better")
    assert (rows["rouge_l"]["better"], rows["rouge_l"]["change"]) == ("higher is better", "better")
    # The verdict says what the gate checks, and no more; no config key or bare "(1)" in it.
    assert found["verdict"]["text"] == (
        "Passed the check: held-out loss fell from 8.0000 to 5.0000 (the check asks for no higher than "
        "the starting model's). This does not show the answers are correct: read the examples below.")
    assert "max_loss_ratio" not in found["verdict"]["text"] and "(1)" not in body
    assert found["title"] == "Run run-2: the fine-tuned model against the model it started from"
    for fact in [found["title"], found["verdict"]["text"], found["checkpoint"],
                 *(f"{r['name']} {r['better']}" for r in found["metrics"]), *(r["meaning"] for r in found["metrics"])]:
        assert " ".join(fact.split()) in body, fact
    for row in found["metrics"]:
        assert f"{row['name']} ({row['better']}): starting model {row['base']}, fine-tuned {row['tuned']}" in text
        assert row["meaning"] in text
    # per-example scores, in both
    assert "(overlap 1.00, JSON fields 1.00) {\"cpt\": \"99213\"}" in text and "overlap 0.80" in text
    assert "overlap 1.00, JSON fields 1.00" in body and "overlap 0.80" in body
    assert 'class="kept"' not in page   # no selection recorded: nothing ringed


def test_the_report_names_the_checkpoint_kept_and_why(tmp_path):
    selection = {"mode": "best", "step": 10, "epoch": 2.0, "eval_loss": 5.0, "last_step": 20,
                 "last_eval_loss": 5.5, "reason": "lowest held-out loss"}
    found, text, body, page = _facts_and_page(tmp_path, SAMPLES, selection)
    assert found["checkpoint"] == ("The model kept is the one after epoch 2 (step 10), not the end of training: "
                                   "its held-out loss (5.0000) was the lowest; at the end it was 5.5000.")
    assert found["checkpoint"] in text and found["checkpoint"] in body
    assert page.count('class="kept"') == 1 and "the checkpoint kept and served" in page
    last = {**selection, "mode": "last", "step": 20, "epoch": 4.0, "eval_loss": 5.5,
            "reason": "training.select is last: the final step is kept; the lowest held-out loss was 5.0000 "
                      "at epoch 2 (step 10)"}
    assert _facts_and_page(tmp_path / "b", SAMPLES, last)[0]["checkpoint"] == (
        "The model kept is the one at the end of training, epoch 4 (step 20) (training.select: last), held-out "
        "loss 5.5000; the lowest held-out loss was 5.0000 at epoch 2 (step 10).")


def test_a_rejected_run_says_the_loss_rose_and_that_it_is_not_served(tmp_path):
    found, text, body, _ = _facts_and_page(tmp_path, SAMPLES, held={**HELD, "tuned_loss": 9.0})
    assert found["verdict"] == {"cls": "rejected", "text": "Rejected, not served: held-out loss rose from "
                                "8.0000 to 9.0000; the check asks for no higher than the starting model's."}
    assert found["verdict"]["text"] in text and found["verdict"]["text"] in body


def test_an_older_evaluation_without_reply_lengths_says_cuts_were_not_recorded(tmp_path):
    older = [{k: v for k, v in s.items() if k not in ("lengths", "scores")} for s in DEGENERATE]
    found, text, body, _ = _facts_and_page(tmp_path, older)
    assert found["flag_counts"][1] == ("Replies of the fine-tuned model: 1 of 2 repeats itself, cut at the limit "
                                       "not recorded, 1 of 2 empty.")
    assert found["examples"][0]["tuned"]["flags"] == ["repeats itself (95% of its 4-word sequences are repeats)"]
    assert "overlap -" in text and found["flag_counts"][1] in body
