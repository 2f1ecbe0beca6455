"""The evaluation gate (kit.gate) and the report (kit.eval_report): a run that did worse than
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
from kit.gate import check_held_out, check_servable, enforce, judge
from kit.runs import REJECTED, SUCCEEDED, Run

HELD = {"examples": 5, "base_loss": 8.0, "tuned_loss": 5.0,
        "generation": {"examples": 2, "max_new_tokens": 8,
                       "base": {"rouge_l": 0.01, "json_valid": 0.0, "json_fields": 0.0},
                       "tuned": {"rouge_l": 0.4, "json_valid": 1.0, "json_fields": 0.5}}}
SAMPLES = [{"prompt": "Code <b>this</b> visit", "reference": '{"cpt": "99213"}',
            "base": "word salad", "tuned": '{"cpt": "99213"}'},
           {"prompt": "Summarise", "reference": "In plain terms: ...", "base": "x", "tuned": "In plain"}]


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
