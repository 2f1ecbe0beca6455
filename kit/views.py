"""Human-readable views (rich) of what the commands return as JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console
from rich.table import Table

STATUS_STYLE = {"done": "green", "skipped": "yellow", "failed": "red", "pending": "dim",
                "succeeded": "green", "running": "cyan", "interrupted": "yellow",
                "stopped": "dim"}


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


def print_status(info: dict[str, Any]) -> None:
    console = Console()
    health = "[green]healthy[/]" if info.get("healthy") else "[red]not serving[/]"
    console.print(f"[bold]{info['name']}[/] (target {info['target']}): {health}")
    console.print(f"  endpoint  {info.get('endpoint') or '-'}")
    console.print(f"  run       {info.get('run_id') or '-'}")
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
