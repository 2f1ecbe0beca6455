"""Human-readable views (rich) of what the commands return as JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

STATUS_STYLE = {"done": "green", "skipped": "yellow", "failed": "red", "pending": "dim",
                "succeeded": "green", "running": "cyan", "interrupted": "yellow",
                "stopped": "dim"}


def print_table(table: Table, keep: tuple[str, ...], console: Console | None = None) -> None:
    """Print a table without ever cutting what users copy: the columns named in `keep` (ids,
    numbers, paths) are as wide as their longest cell, other columns wrap; when even that does
    not fit the terminal, the table is printed wider than it (a terminal wraps the line, the
    text stays whole), never truncated with an ellipsis."""
    from rich.measure import Measurement
    from rich.text import Text

    console = console or Console()
    for column in table.columns:
        if column.header in keep:
            cells = [Text.from_markup(c) if isinstance(c, str) else c
                     for c in (column.header, *column.cells)]
            widest = max(len(line) for cell in cells for line in cell.plain.split("\n"))
            column.min_width = max(widest, column.min_width or 0)
            column.no_wrap = True   # kept out of rich's shrinking: never folded nor cut
    needed = Measurement.get(console, console.options.update_width(10_000), table).minimum
    if needed <= console.width:
        console.print(table)
        return
    width = console.width
    console.width = needed  # wider than the terminal: it wraps the line, the text stays whole
    try:
        console.print(table, crop=False)
    finally:
        console.width = width


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


def _cluster_line(cluster: dict[str, Any]) -> str:
    """Nodes and GPUs of a cluster target, or why its API did not answer."""
    if "error" in cluster:
        return f"[red]unreachable[/]: {escape(str(cluster['error']))}"
    ready = cluster.get("ready", 0)
    style = "green" if ready == cluster.get("nodes", 0) else "yellow"
    return (f"{cluster.get('nodes', 0)} node(s), [{style}]{ready} ready[/]; "
            f"{cluster.get('gpus', 0)} GPU(s) on {cluster.get('gpu_nodes', 0)} node(s)")


def _training_line(training: dict[str, Any]) -> str:
    """The latest fine-tune run: its status and, while it trains, step, loss and ETA."""
    status = training.get("status") or "-"
    style = STATUS_STYLE.get(status, "")
    shown = f"[{style}]{status}[/]" if style else escape(status)
    line = f"{escape(str(training.get('run_id')))} {shown}"
    step, total = training.get("step"), training.get("total")
    if isinstance(step, int) and total:
        line += f"  step {step}/{total} ({100 * step // total}%)"
    if isinstance(training.get("loss"), (int, float)):
        line += f"  loss {training['loss']:.3f}"
    if isinstance(training.get("eta_s"), (int, float)):
        line += f"  ETA {_duration(training['eta_s'])}"
    return line


def print_status(info: dict[str, Any], console: Console | None = None) -> None:
    """The status of any target; cluster targets add their nodes and the latest run."""
    console = console or Console()
    health = "[green]healthy[/]" if info.get("healthy") else "[red]not serving[/]"
    console.print(f"[bold]{info['name']}[/] (target {info['target']}): {health}")
    console.print(f"  endpoint  {info.get('endpoint') or '-'}")
    if info.get("served_model"):
        console.print(f"  model     {info['served_model']} (the name clients send; none works too)")
    if info.get("ca_file"):
        console.print(f"  trust     {info['ca_file']} (the endpoint's CA)")
    console.print(f"  run       {info.get('run_id') or '-'}")
    if info.get("cluster"):
        console.print(f"  cluster   {_cluster_line(info['cluster'])}")
    if info.get("training"):
        console.print(f"  training  {_training_line(info['training'])}")
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("phase", "state", "detail"):
        table.add_column(column)
    for name, phase in (info.get("phases") or {}).items():
        style = STATUS_STYLE.get(phase.get("status", ""), "")
        table.add_row(name, f"[{style}]{phase.get('status')}[/]" if style else phase.get("status"),
                      phase.get("detail") or "")
    console.print(table)


def print_estimate(estimate: dict[str, Any], console: Console | None = None) -> None:
    """The time and cost of the fine-tune and of serving, with where each figure comes from."""
    console = console or Console()
    e = estimate
    money = (lambda v: "-" if v is None else f"${v:,.2f}")  # noqa: E731
    table = Table(title="estimate", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    gpus = f"{e['nodes']} node(s) x {e['gpus_per_node']} {e['gpu_type']}"
    table.add_row("GPU pool", f"{gpus}" + (f" ({e['instance_type']})" if e["instance_type"] else ""))
    table.add_row("training tokens", f"{e['train_tokens']:,} at {e['tokens_per_s']:,.0f} tokens/s")
    table.add_row("fine-tune", f"{e['train_hours']:.2f} h, {money(e['train_cost_usd'])}")
    table.add_row("serving", f"{money(e['serve_usd_per_hour'])} an hour")
    if e["price_source"]:
        table.add_row("prices", f"{e['price_source']}" + (f", {e['price_date']}" if e["price_date"] else ""))
    console.print(table)
    for line in e.get("warnings") or []:
        console.print(f"  ! {line}", highlight=False, markup=False)
    for line in e["assumptions"]:
        console.print(f"  - {line}", highlight=False, markup=False)


def _short_path(path: str | None) -> str | None:
    """A path relative to the working folder when it lies inside it (shorter, still pastable
    from here), else as it is."""
    if not path:
        return path
    import os

    try:
        relative = os.path.relpath(path)
    except ValueError:   # another drive (Windows)
        return path
    return path if relative.startswith("..") else relative


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def print_runs(runs: list[dict[str, Any]]) -> None:
    console = Console()
    if not runs:
        console.print("no runs yet (start one with `kit up`)")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("run", "status", "method", "created", "loss", "hours est/actual", "cost est/actual",
                   "model"):
        table.add_column(column)
    for run in runs:
        m = run.get("metrics") or {}
        loss = (f"{m['loss_first']:.3f} → {m['loss_last']:.3f}"
                if isinstance(m.get("loss_first"), (int, float)) and
                isinstance(m.get("loss_last"), (int, float)) else "-")
        style = STATUS_STYLE.get(run["status"], "")
        est, act = run.get("estimate") or {}, run.get("actual") or {}
        hours = f"{_num(est.get('train_hours'))} / {_num(act.get('hours'))}"
        cost = f"{_usd(est.get('train_cost_usd'))} / {_usd(act.get('cost_usd'))}"
        table.add_row(escape(run["id"]), f"[{style}]{run['status']}[/]", run.get("method", ""),
                      _when(run.get("created")), loss, hours, cost,
                      escape(_short_path(run["artifacts"].get("model")) or "-"))
    print_table(table, ("run", "created", "loss", "hours est/actual", "cost est/actual", "model"),
                console)
