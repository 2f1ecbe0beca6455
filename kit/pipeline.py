"""The phases of `kit up` / `kit down`, their recorded states, fingerprints and progress.

Each phase is a function returning a short detail string (or raising KitError). Its outcome
is written to `state.json` right away, so `kit status` can always say how far a deployment got
and a crash leaves an accurate record rather than a stale one.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from rich.console import Console

from kit.errors import Interrupted, KitError
from kit.jsonio import read_json, write_json
from kit.process import Stopped

if TYPE_CHECKING:
    from kit.config import KitConfig

DONE, SKIPPED, FAILED, PENDING = "done", "skipped", "failed", "pending"
INTERRUPTED = "interrupted"


@dataclass
class Outcome:
    detail: str          # rich markup, for the terminal
    skipped: bool = False

    @property
    def plain(self) -> str:
        """The detail as plain text: what state.json (and so `--output json`) records."""
        from rich.text import Text

        return Text.from_markup(self.detail).plain


def fingerprint(**parts: Any) -> str:
    """A stable key for "the same work": canonical JSON of the inputs, hashed."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def run_fingerprint(cfg: "KitConfig", *, data: str, model_revision: str,
                    place: dict[str, Any] | None = None) -> str:
    """The one key of "the same fine-tune", for every target: the dataset's identity (its
    manifest hash; the URI when rendering without reading it), the base model at its resolved
    revision, the training settings as the recipe resolves them, the trainer version, and where
    it runs (`place`: the GPU shape and trainer image on a cluster; nothing locally)."""
    from kit.trainer import TRAINER_VERSION
    from kit.trainer.recipe import resolve

    return fingerprint(data=data, model=f"{cfg.model.id}@{model_revision}",
                       training=resolve(cfg.training.model_dump()), trainer=TRAINER_VERSION,
                       place=place or {})


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


def run_phases(phases: list[tuple[str, Callable[[], Outcome]]], state: DeploymentState,
               console: Console) -> None:
    """Run phases in order; record each; stop at the first failure (it re-raises)."""
    for name, _ in phases:
        current = state.load().get("phases", {}).get(name)
        if current is None:
            state.set_phase(name, PENDING, "")
    for name, action in phases:
        started = time.monotonic()
        console.print(f"[bold cyan]▸ {name}[/]")
        try:
            outcome = action()
        except KitError as exc:
            status = INTERRUPTED if isinstance(exc, Interrupted) else FAILED
            state.set_phase(name, status, exc.message, time.monotonic() - started)
            raise
        except (KeyboardInterrupt, Stopped):
            state.set_phase(name, INTERRUPTED, "stopped by the user", time.monotonic() - started)
            raise
        except BaseException as exc:
            state.set_phase(name, FAILED, f"{type(exc).__name__}: {exc}".strip(": "),
                            time.monotonic() - started)
            raise
        seconds = time.monotonic() - started
        state.set_phase(name, SKIPPED if outcome.skipped else DONE, outcome.plain, seconds)
        mark = "[yellow]= unchanged[/]" if outcome.skipped else "[green]✓[/]"
        console.print(f"  {mark} {outcome.detail} [dim]({seconds:.1f}s)[/]")
