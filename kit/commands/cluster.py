"""doctor, train, serve: cluster operations besides up/down (targets kubernetes and aws)."""

from __future__ import annotations

from pathlib import Path

import click

from kit.commands import file_option, load_config, output_option, print_json


def _cluster_target(cfg):
    from kit.errors import KitError
    from kit.targets import for_config

    if cfg.target == "local":
        raise KitError("target: local has no cluster; this command is for kubernetes and aws",
                       hint="`kit up` trains and serves locally")
    return for_config(cfg)


@click.command()
@file_option
@output_option
def doctor(config_file: Path, output: str) -> None:
    """Check every prerequisite of `kit up` at once (tools, credentials, quota, cluster, data).

    Creates nothing; exits 1 if anything is missing, with the fix for each problem.
    """
    from rich.console import Console
    from rich.markup import escape

    from kit.errors import KitError
    from kit.preflight import run

    cfg = load_config(config_file)
    _cluster_target(cfg)
    checks = run(cfg)
    bad = [c for c in checks if not c.ok]
    if output == "json":
        print_json([c.__dict__ for c in checks])
    else:
        console = Console()
        for c in checks:
            mark = "[green]✓[/]" if c.ok else "[red]✗[/]"
            fix = f" (fix: {escape(c.fix)})" if c.fix and not c.ok else ""
            console.print(f"  {mark} {escape(c.name)}: {escape(c.detail)}{fix}", soft_wrap=True,
                          highlight=False)
    if bad:
        raise KitError(f"doctor: {len(bad)} of {len(checks)} checks failed",
                       hint="fix the lines marked ✗, then run `kit doctor` again")


@click.command()
@file_option
@click.option("--detach", is_flag=True, help="Return once the Job runs; `kit logs -F` follows it.")
def train(config_file: Path, detach: bool) -> None:
    """Start a new fine-tune run on the existing cluster (same data and settings allowed)."""
    from rich.console import Console

    cfg = load_config(config_file)
    console = Console()
    run = _cluster_target(cfg).train(console, detach=detach)
    if detach and run.status != "succeeded":
        console.print(f"[bold]detached[/]: run {run.id} is training; follow it: "
                      f"kit logs -F {run.id} -f {config_file}")
        return
    console.print(f"[bold green]trained[/]: run {run.id}; serve it with: "
                  f"kit serve --run {run.id} -f {config_file}")


@click.command()
@file_option
@click.option("--run", "run_id", required=True, help="The run to serve (see `kit runs`).")
def serve(config_file: Path, run_id: str) -> None:
    """Roll the inference server to RUN (also how to roll back), then smoke-test it."""
    from rich.console import Console

    cfg = load_config(config_file)
    console = Console()
    result = _cluster_target(cfg).serve(console, run_id)
    console.print(f"[bold green]serving[/] run {result['run_id']} at {result['endpoint']}")
