"""Progress of a fine-tune run, from the trainer's JSON events: a bar on a terminal, a line
every ~10% elsewhere (CI logs, pipes). The local target reads the events from the trainer's
stdout, the cluster follower from the trainer pod's log; both show them here."""

from __future__ import annotations

from typing import Any

from rich.console import Console


class ProgressReporter:
    """A progress bar on a terminal; a line every ~10% elsewhere."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = None
        self.task = None
        self.last_pct = -10

    def start(self, event: dict[str, Any]) -> None:
        total = int(event.get("total_steps") or 0)
        resumed = int(event.get("resumed_from_step") or 0)
        line = (f"  training {event.get('method', '')} on {event.get('device', '?')}: "
                f"{event.get('examples', '?')} examples, {total} steps")
        if resumed:
            line += f", resuming from step {resumed}"
        self.console.print(line)
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("  train"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                     console=self.console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("train", total=total or None, completed=resumed,
                                               info="")

    def step(self, event: dict[str, Any]) -> None:
        step, total = int(event.get("step", 0)), int(event.get("total") or 0)
        loss, tps = event.get("loss"), event.get("tokens_per_s")
        info = f"loss {loss:.3f}" if isinstance(loss, (int, float)) else ""
        if isinstance(tps, (int, float)):
            info += f"  {tps:,.0f} tok/s"
        if self.progress is not None:
            self.progress.update(self.task, completed=step, total=total or None, info=info)
            return
        pct = int(100 * step / total) if total else 0
        if pct >= self.last_pct + 10 or step == total:
            self.last_pct = pct
            self.console.print(f"  step {step}/{total} ({pct}%) {info}")

    def note(self, text: str) -> None:
        (self.progress.console if self.progress else self.console).print(f"  {text}")

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def show_event(event: dict[str, Any], reporter: ProgressReporter) -> str | None:
    """Show one trainer event (local subprocess or pod log alike); return the failure reason
    if it is an error event. A malformed event is ignored (it is still kept in the log)."""
    try:
        kind = event.get("event")
        if kind == "start":
            reporter.start(event)
        elif kind == "step":
            reporter.step(event)
        elif kind == "eval" and isinstance(event.get("eval_loss"), (int, float)):
            from kit.logview import describe  # the words `kit logs` uses for it

            reporter.note(describe({k: v for k, v in event.items() if k != "time"}))
        elif kind == "select" and event.get("reason"):   # training.select: the checkpoint kept
            reporter.note(f"kept step {event.get('step')}: {event['reason']}")
        elif kind == "error":
            return str(event.get("message", "")).strip() or None
    except (ValueError, TypeError, AttributeError):
        pass
    return None
