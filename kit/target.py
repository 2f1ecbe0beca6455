"""The Target protocol, what every place to run offers the CLI, and `for_config`, which picks
the Target for kit.yaml's `target:` (local, or a cluster: existing or made by a cloud stack).
Every target's up, train and serve run the one pipeline (kit.pipeline.flow), to which the
target supplies primitives (kit.pipeline.flow.Primitives)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Protocol

from rich.console import Console

from kit.errors import KitError

if TYPE_CHECKING:
    from kit.config import KitConfig
    from kit.pipeline.ledger import Run
    from kit.serving.client import Endpoint


def for_config(cfg: "KitConfig") -> "Target":
    from kit.targets import support_for

    if not support_for(cfg.target).on_cluster:     # this machine: the kit's own processes
        from kit.local.target import LocalTarget

        return LocalTarget(cfg)
    try:
        from kit.cluster.deps import real_deps
        from kit.cluster.target import ClusterTarget
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("kit.cluster"):
            raise
        raise KitError(f"target: {cfg.target}: this install has no cluster support",
                       hint="pip install 'lima-kit[kubernetes]' (or the cloud's extra)") from None
    return ClusterTarget(cfg, real_deps(cfg))


class Target(Protocol):
    def up(self, console: Console, *, detach: bool = False) -> dict[str, Any]:
        """Run every phase of `kit up`; return the final status. With detach, return once
        the fine-tune runs (cluster targets; `kit logs -F` reattaches)."""

    def train(self, console: Console, *, detach: bool = False) -> "Run":
        """A new fine-tune run with the current data and settings (`kit train`)."""

    def serve(self, console: Console, run_id: str, *, force: bool = False) -> dict[str, Any]:
        """Serve a chosen succeeded run and smoke-test it (`kit serve --run`, also a rollback);
        a run the evaluation gate rejected only with `force`."""

    def down(self, console: Console, *, purge: bool) -> list[str]:
        """Stop what runs, in reverse order; with purge also delete the kit's own artifacts."""

    def status(self) -> dict[str, Any]:
        """endpoint, run_id, healthy and the phase states."""

    def runs(self) -> list[dict[str, Any]]:
        """Runs, newest first, each with id, status, artifacts and metrics."""

    def log_lines(self, run_id: str | None, *, server: bool, follow: bool,
                  raw: bool = False) -> Iterator[str]:
        """The server's log, or a run's training log (default: the latest run): its trainer
        event lines (other lines may be mixed in) ending with the kit's `run` event
        (kit.logview.run_event); with raw, the trainer's output as written. Followed, it ends
        when the run does."""

    def run_artifacts(self, run_id: str) -> str:
        """Where a run's outputs live, as a storage URI ending in "/" (bench results go there)."""

    def endpoint(self) -> Endpoint:
        """The serving endpoint: its URL, the API key to use and the CA to trust."""
