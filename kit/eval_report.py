"""`kit eval`: what a run's held-out evaluation found, as a page a reviewer (or a clinician)
reads inside the network: the facts of kit.eval_facts (verdict, the checkpoint kept, each number
with its meaning, per-example scores and flags), the loss curves with the kept checkpoint marked,
and the held-out prompts with the reference, the base model's reply and the tuned model's.

The numbers are the trainer's (kit.trainer.evaluate: eval.json, metrics.jsonl beside the run's
artifacts); nothing here calls a model.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from kit.errors import KitError

REPORT = "report.html"


def load(run_uri: str, *, owners: Mapping[str, str] | None = None
         ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """eval.json and the metrics.jsonl records of the run at `run_uri` (`owners`: the kit's
    buckets and the account that must own each, kit.data.storage.open_store)."""
    from kit.data import published
    from kit.data.storage import open_store

    store = open_store(run_uri, owners=owners)
    held_raw = published.read_file(store, "eval.json")  # the newest manifest's copies
    if held_raw is None:
        raise KitError(f"{run_uri}: no eval.json: this run has no held-out evaluation",
                       hint="runs trained before the evaluation existed, or with no held-out "
                            "examples (training.eval_fraction 0), have none")
    held = json.loads(held_raw)
    metrics = published.read_file(store, "metrics.jsonl")
    records = ([json.loads(line) for line in metrics.decode().splitlines() if line]
               if metrics is not None else [])
    return held, records


def loss_plot(records: list[dict[str, Any]], width: int = 720, height: int = 320,
              kept: int | None = None) -> str:
    """Training loss per step and held-out loss (step 0: the base model) as an inline SVG; the
    held-out point of the kept checkpoint (step `kept`) ringed."""
    train = [(r["step"], r["loss"]) for r in records if r.get("kind") == "train" and r.get("loss") is not None]
    held = [(r["step"], r["eval_loss"]) for r in records if r.get("kind") == "eval"]
    points = train + held
    if not points:
        return "<p>No loss was recorded.</p>"
    pad = 50
    x_high = max(max(s for s, _ in points), 1)
    y_high = max(v for _, v in points) * 1.1 or 1.0

    def xy(step: float, value: float) -> str:
        return (f"{pad + step / x_high * (width - 2 * pad):.1f},"
                f"{height - pad - value / y_high * (height - 2 * pad):.1f}")

    parts = [f'<svg id="loss-plot" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
             'font-size="12" role="img" aria-label="training and held-out loss by step">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#333"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#333"/>',
             f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">training step</text>',
             f'<text x="14" y="{height / 2}" transform="rotate(-90 14 {height / 2})" '
             'text-anchor="middle">loss (lower is better)</text>']
    for i in range(5):
        value = y_high * i / 4
        parts.append(f'<text x="{pad - 6}" y="{height - pad - i / 4 * (height - 2 * pad) + 4:.1f}" '
                     f'text-anchor="end" fill="#555">{value:.2f}</text>')
    if train:
        parts.append('<polyline class="train" fill="none" stroke="#1f5fbf" stroke-width="2" '
                     f'points="{" ".join(xy(s, v) for s, v in train)}"/>')
    if held:
        parts.append('<polyline class="held-out" fill="none" stroke="#d9731a" stroke-width="2" '
                     f'stroke-dasharray="5 3" points="{" ".join(xy(s, v) for s, v in held)}"/>')
        parts += [f'<circle cx="{xy(s, v).split(",")[0]}" cy="{xy(s, v).split(",")[1]}" r="4" '
                  f'fill="#d9731a"/>' for s, v in held]
        ring = [(s, v) for s, v in held if s == kept and s > 0]
        parts += [f'<circle class="kept" cx="{xy(s, v).split(",")[0]}" cy="{xy(s, v).split(",")[1]}" r="9" '
                  'fill="none" stroke="#1b7a36" stroke-width="2"/>' for s, v in ring[-1:]]
    parts += [f'<rect x="{width - 300}" y="14" width="10" height="10" fill="#1f5fbf"/>'
              f'<text x="{width - 285}" y="23">training loss</text>',
              f'<rect x="{width - 300}" y="30" width="10" height="10" fill="#d9731a"/>'
              f'<text x="{width - 285}" y="39">held-out loss (step 0: starting model)</text>',
              f'<circle cx="{width - 295}" cy="51" r="5" fill="none" stroke="#1b7a36" stroke-width="2"/>'
              f'<text x="{width - 285}" y="55">the checkpoint kept and served</text>' if kept else "",
              "</svg>"]
    return "".join(parts)


def page(run: dict[str, Any], held: dict[str, Any], records: list[dict[str, Any]],
         serving: dict[str, Any] | None, serving_held: dict[str, Any] | None) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    from kit.eval_facts import facts

    kept = ((run.get("metrics") or {}).get("selection") or {}).get("step")
    env = Environment(loader=PackageLoader("kit", "templates/eval"), autoescape=select_autoescape(["j2"]))
    return env.get_template("report.html.j2").render(
        run=run, f=facts(run, held, serving, serving_held), plot=loss_plot(records, kept=kept))


def save(run_uri: str, html: str, *, owners: Mapping[str, str] | None = None) -> str:
    """The page beside the run's artifacts; returns its URI."""
    from kit.data.storage import open_store

    body = html.encode()
    open_store(run_uri, owners=owners).put(REPORT, body, hashlib.sha256(body).hexdigest())
    return f"{run_uri.rstrip('/')}/{REPORT}"
