"""The Target protocol: what every place to run offers the CLI."""

from __future__ import annotations

from typing import Any, Iterator, Protocol

from rich.console import Console


class Target(Protocol):
    def up(self, console: Console, *, detach: bool = False) -> dict[str, Any]:
        """Run every phase of `kit up`; return the final status. With detach, return once
        the fine-tune runs (cluster targets; `kit logs -F` reattaches)."""

    def down(self, console: Console, *, purge: bool) -> list[str]:
        """Stop what runs, in reverse order; with purge also delete the kit's own artifacts."""

    def status(self) -> dict[str, Any]:
        """endpoint, run_id, healthy and the phase states."""

    def runs(self) -> list[dict[str, Any]]:
        """Runs, newest first, each with id, status, artifacts and metrics."""

    def log_lines(self, run_id: str | None, *, server: bool, follow: bool) -> Iterator[str]:
        """The training log of a run (default: the latest) or the server's log."""

    def endpoint(self) -> tuple[str, str | None]:
        """The base URL of the serving endpoint and the API key to use with it."""
