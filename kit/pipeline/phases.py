"""Phases as `kit status` shows them: each one's outcome, recorded in `state.json` as it ends.

A phase is a function returning its value (a Dataset, a BaseModel, a trained Run: see
kit.pipeline.flow) or just an Outcome; the value carries the phase's Outcome, a short detail for
the terminal. The outcome is written to `state.json` right away, so `kit status` can always say
how far a deployment got and a crash leaves an accurate record rather than a stale one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

from rich.console import Console

from kit.errors import Interrupted, KitError
from kit.jsonio import read_json, write_json
from kit.process import Stopped

DONE, SKIPPED, FAILED, PENDING = "done", "skipped", "failed", "pending"
INTERRUPTED = "interrupted"


@dataclass
class Outcome:
    detail: str          # rich markup, for the terminal
    skipped: bool = False

    @property
    def outcome(self) -> "Outcome":
        """An Outcome is its own result: a phase that returns nothing else returns it."""
        return self

    @property
    def plain(self) -> str:
        """The detail as plain text: what state.json (and so `--output json`) records."""
        from rich.text import Text

        return Text.from_markup(self.detail).plain


class DeploymentState:
    """state.json of one deployment: phase outcomes plus a few facts (run id, endpoint)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        return read_json(self.path, default={"phases": {}})

    def update(self, **facts: Any) -> None:
        data = self.load()
        data.update(facts)
        write_json(self.path, data)

    def set_phase(self, name: str, status: str, detail: str, seconds: float | None = None) -> None:
        data = self.load()
        data.setdefault("phases", {})[name] = {
            "status": status, "detail": detail, "at": time.time(),
            "seconds": None if seconds is None else round(seconds, 2)}
        write_json(self.path, data)


class HasOutcome(Protocol):
    @property
    def outcome(self) -> Outcome: ...


Result = TypeVar("Result", bound=HasOutcome)


class Phases:
    """The phases of one command, in order: all marked pending first (those not yet recorded),
    then each run and recorded as it ends; the first failure is recorded and re-raised."""

    def __init__(self, names: list[str], state: DeploymentState, console: Console) -> None:
        self.state = state
        self.console = console
        recorded = state.load().get("phases", {})
        for name in names:
            if name not in recorded:
                state.set_phase(name, PENDING, "")

    def run(self, name: str, action: Callable[[], Result]) -> Result:
        """Run one phase; return what it returned (its `outcome` is what is recorded)."""
        started = time.monotonic()
        self.console.print(f"[bold cyan]▸ {name}[/]")
        try:
            result = action()
        except KitError as exc:
            status = INTERRUPTED if isinstance(exc, Interrupted) else FAILED
            self.state.set_phase(name, status, exc.message, time.monotonic() - started)
            raise
        except (KeyboardInterrupt, Stopped):
            self.state.set_phase(name, INTERRUPTED, "stopped by the user", time.monotonic() - started)
            raise
        except BaseException as exc:
            self.state.set_phase(name, FAILED, f"{type(exc).__name__}: {exc}".strip(": "),
                                 time.monotonic() - started)
            raise
        seconds = time.monotonic() - started
        outcome = result.outcome
        self.state.set_phase(name, SKIPPED if outcome.skipped else DONE, outcome.plain, seconds)
        mark = "[yellow]= unchanged[/]" if outcome.skipped else "[green]✓[/]"
        self.console.print(f"  {mark} {outcome.detail} [dim]({seconds:.1f}s)[/]")
        return result


def run_phases(phases: list[tuple[str, Callable[[], Outcome]]], state: DeploymentState,
               console: Console) -> None:
    """Run phases that return only their Outcome, in order (kit.pipeline.flow runs those that
    return values through Phases itself)."""
    runner = Phases([name for name, _ in phases], state, console)
    for name, action in phases:
        runner.run(name, action)
