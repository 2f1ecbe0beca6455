"""What `kit bench` sends and shows: prompts from the deployment's held-out split (or a file),
a table for the terminal, plain JSON, and an HTML page with the throughput-latency plot (inline
SVG, no plotting library), saved beside the run that serves."""

from __future__ import annotations

import html
import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from kit.errors import KitError
from kit.serving.bench import Level

if TYPE_CHECKING:
    from kit.config import KitConfig

BENCH_DIR = "bench/"


def prompt_of(conversation: list[dict[str, str]]) -> list[dict[str, str]]:
    """The messages before the last assistant reply: what a client would send."""
    last = max(i for i, m in enumerate(conversation) if m["role"] == "assistant")
    return conversation[:last]


def _conversations(path: Path) -> list[list[dict[str, str]]]:
    from kit.trainer.dataset import load

    return load(path)


def prompts_for(cfg: "KitConfig", prompts_file: Path | None) -> tuple[list[list[dict[str, str]]], str]:
    """(prompts, where they come from): a file in any data format the kit reads, else the
    held-out split the trainer kept out of training (same rule, same seed)."""
    from kit.trainer.dataset import split
    from kit.trainer.recipe import resolve

    if prompts_file is not None:
        prompts = [prompt_of(c) for c in _conversations(prompts_file)]
        return prompts, f"{len(prompts)} prompts from {prompts_file}"
    local = cfg.resolve_path(cfg.data.uri)
    with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
        if local is None:
            from kit.data.sync import sync

            sync(cfg.data.uri, tmp)
            local = Path(tmp)
        conversations = _conversations(local)
    settings = resolve(cfg.training.model_dump())
    _train, held = split(conversations, settings["eval_fraction"], settings["eval_max_examples"],
                         settings["seed"])
    if held:
        return [prompt_of(c) for c in held], f"{len(held)} held-out prompts of {cfg.data.uri}"
    return ([prompt_of(c) for c in conversations],
            f"{len(conversations)} prompts of {cfg.data.uri} (no held-out split: "
            "training.eval_fraction is 0)")


def result(levels: list[Level], *, knee_at: int | None, slo_ttft_s: float, replicas: int,
           endpoint: str, run_id: str | None, prompts: str, max_tokens: int) -> dict[str, Any]:
    per_replica = None if knee_at is None else knee_at / max(replicas, 1)
    return {
        "endpoint": endpoint, "run_id": run_id, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "prompts": prompts, "max_tokens": max_tokens, "slo_ttft_s": slo_ttft_s, "replicas": replicas,
        "levels": [lv.to_dict() for lv in levels],
        "knee": {"concurrency": knee_at, "users_per_replica": per_replica},
        "summary": (f"serves about {per_replica:g} concurrent user{'' if per_replica == 1 else 's'} "
                    f"per replica with p95 time to first token under {slo_ttft_s:g}s"
                    if per_replica is not None else
                    f"no level kept p95 time to first token under {slo_ttft_s:g}s without errors"),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.0f}"


# The table's columns of figures, which kit.views.print_table never cuts (headers in two lines
# so that the figures, not the words, set the widths).
NUMBER_COLUMNS = ("users", "requests", "TTFT ms\np50/p95/p99", "ITL ms\np50/p95", "e2e ms\np50/p95",
                  "tokens/s", "req/s")


def table(data: dict[str, Any]):
    from rich.table import Table

    t = Table(title=f"per level (at most {data['max_tokens']} tokens a reply)", title_justify="left")
    for column in ("users", "requests", "errors", *NUMBER_COLUMNS[2:]):
        t.add_column(column, justify="right")
    for lv in data["levels"]:
        errors = ", ".join(f"{k} {v}" for k, v in sorted(lv["errors"].items())) or "0"
        t.add_row(str(lv["concurrency"]), str(lv["requests"]), errors,
                  "/".join(_ms(lv["ttft_s"][q]) for q in ("p50", "p95", "p99")),
                  "/".join(_ms(lv["itl_s"][q]) for q in ("p50", "p95")),
                  "/".join(_ms(lv["e2e_s"][q]) for q in ("p50", "p95")),
                  f"{lv['output_tokens_per_s']:,.1f}", f"{lv['requests_per_s']:,.2f}")
    return t


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def plot_svg(levels: list[dict[str, Any]], slo_ttft_s: float, width: int = 640, height: int = 360) -> str:
    """Throughput (x) against latency (y): p95 time to first token and p50 end-to-end, one
    point per concurrency level, and the TTFT objective as a dashed line."""
    pad = 60
    xs = [lv["output_tokens_per_s"] for lv in levels]
    series = {"p95 TTFT": [lv["ttft_s"]["p95"] for lv in levels],
              "p50 end-to-end": [lv["e2e_s"]["p50"] for lv in levels]}
    ys = [y for values in series.values() for y in values if y is not None] + [slo_ttft_s]
    spread = (max(xs) - min(xs)) or max(max(xs), 1.0)
    x_low, x_high = max(0.0, min(xs) - 0.25 * spread), max(xs) + 0.25 * spread
    y_high = max(ys) * 1.15

    def px(x: float) -> float:
        return pad + (x - x_low) / (x_high - x_low) * (width - 2 * pad)

    def py(y: float) -> float:
        return height - pad - y / y_high * (height - 2 * pad)

    from kit.serving.chart_labels import Labels

    labels = Labels((pad, pad, width - pad + 40, height - pad))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#333"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#333"/>',
             labels.fixed(width / 2, height - 14, "output tokens/s", "middle"),
             f'<text x="14" y="{height / 2}" transform="rotate(-90 14 {height / 2})" '
             'text-anchor="middle">latency (s)</text>']
    for x in _ticks(x_low, x_high):
        parts.append(labels.fixed(px(x), height - pad + 20, f"{x:,.0f}", "middle", 'fill="#555"'))
    for y in _ticks(0.0, y_high):
        parts.append(labels.fixed(pad - 6, py(y) + 4, f"{y:.2f}", "end", 'fill="#555"') +
                     f'<line x1="{pad}" y1="{py(y):.1f}" x2="{width - pad}" y2="{py(y):.1f}" stroke="#eee"/>')
    for index, label in enumerate(series):   # the legend, above the plot
        legend_y = pad - 30 + 16 * index
        parts.append(f'<rect x="{pad + 10}" y="{legend_y - 9}" width="10" height="10" '
                     f'fill="{("#1f5fbf", "#2a9d4b")[index]}"/>' + labels.fixed(pad + 26, legend_y, label))
    parts += [f'<line x1="{pad}" y1="{py(slo_ttft_s):.1f}" x2="{width - pad}" y2="{py(slo_ttft_s):.1f}" '
              'stroke="#c00" stroke-dasharray="6 4"/>',
              labels.fixed(width - pad, py(slo_ttft_s) - 4, f"TTFT objective {slo_ttft_s:g}s", "end", 'fill="#c00"')]
    placed = []
    for index, values in enumerate(series.values()):
        colour = ("#1f5fbf", "#2a9d4b")[index]
        points = [(px(x), py(y), lv["concurrency"]) for x, y, lv in zip(xs, values, levels, strict=True)
                  if y is not None]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        for x, y, users in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>')
            labels.block((x - 4, y - 4, x + 4, y + 4))      # no label covers a point
            placed.append((x, y, f'{users} user{"" if users == 1 else "s"}', colour))
    parts += [labels.near(x, y, text, f'fill="{colour}"') for x, y, text, colour in placed]
    parts.append("</svg>")
    return "".join(parts)


def page(data: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{lv['concurrency']}</td><td>{lv['requests']}</td><td>{lv['failed']}</td>"
        f"<td>{_ms(lv['ttft_s']['p50'])} / {_ms(lv['ttft_s']['p95'])} / {_ms(lv['ttft_s']['p99'])}</td>"
        f"<td>{_ms(lv['itl_s']['p50'])} / {_ms(lv['itl_s']['p95'])}</td>"
        f"<td>{_ms(lv['e2e_s']['p50'])} / {_ms(lv['e2e_s']['p95'])}</td>"
        f"<td>{lv['output_tokens_per_s']:,.1f}</td><td>{lv['requests_per_s']:,.2f}</td></tr>"
        for lv in data["levels"])
    esc = html.escape
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>kit bench {esc(str(data['run_id']))}"
            "</title><style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;"
            "text-align:right;border-bottom:1px solid #ddd}</style></head><body>"
            f"<h1>kit bench</h1><p>{esc(data['endpoint'])}, run {esc(str(data['run_id']))}, "
            f"{esc(data['at'])}; {esc(data['prompts'])}; at most {data['max_tokens']} tokens per reply.</p>"
            f"<p><strong>{esc(data['summary'])}</strong></p>{plot_svg(data['levels'], data['slo_ttft_s'])}"
            "<table><tr><th>users</th><th>requests</th><th>errors</th><th>TTFT p50/p95/p99 ms</th>"
            "<th>ITL p50/p95 ms</th><th>e2e p50/p95 ms</th><th>tokens/s</th><th>req/s</th></tr>"
            f"{rows}</table></body></html>")


def save(run_uri: str, data: dict[str, Any], *, owners: Mapping[str, str] | None = None) -> str:
    """Write the JSON and the HTML page under the run's artifacts (bench/); returns where
    (`owners`: the kit's buckets and the account that must own each, kit.data.storage)."""
    import hashlib

    from kit.data.storage import open_store

    where = f"{run_uri.rstrip('/')}/{BENCH_DIR}"
    stamp = data["at"].replace(":", "").replace("-", "")
    store = open_store(where, owners=owners)
    for name, body in ((f"{stamp}.json", json.dumps(data, indent=2).encode()),
                       (f"{stamp}.html", page(data).encode())):
        store.put(name, body, hashlib.sha256(body).hexdigest())
    return f"{where}{stamp}.json"


def levels_option(text: str) -> list[int]:
    try:
        levels = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise KitError(f"--concurrency: {text!r} is not a list of numbers", hint="like 1,2,4,8") from None
    if not levels or levels[0] < 1 or levels[-1] > 256:
        raise KitError(f"--concurrency: {text!r}: levels from 1 to 256", hint="like 1,2,4,8")
    return levels
