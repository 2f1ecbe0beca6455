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


def print_runs(runs: list[dict[str, Any]]) -> None:
    console = Console()
    if not runs:
        console.print("no runs yet (start one with `kit up`)")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("run", "status", "method", "created", "loss", "model"):
        table.add_column(column)
    for run in runs:
        m = run.get("metrics") or {}
        loss = (f"{m['loss_first']:.3f} → {m['loss_last']:.3f}"
                if isinstance(m.get("loss_first"), (int, float)) and
                isinstance(m.get("loss_last"), (int, float)) else "-")
        style = STATUS_STYLE.get(run["status"], "")
        table.add_row(run["id"], f"[{style}]{run['status']}[/]", run.get("method", ""),
                      _when(run.get("created")), loss, run["artifacts"].get("model") or "-")
    console.print(table)
