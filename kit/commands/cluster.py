"""doctor, train, serve: operations besides up/down. doctor is for cluster targets; train and
serve work on every target."""

from __future__ import annotations

from pathlib import Path

import click

from kit.commands import file_option, load_config, output_option, print_json


def _cluster_target(cfg):
    from kit.errors import KitError
    from kit.target import for_config

    if cfg.target == "local":
        raise KitError("target: local has no cluster; `kit doctor` checks cluster targets",
                       hint="`kit up` checks what the local target needs as it goes")
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

    from kit.cluster.preflight import run
    from kit.errors import KitError

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
    """Start a new fine-tune run (same data and settings allowed); it is not served."""
    from kit.target import for_config
    from kit.terminal import make_console, program

    cfg = load_config(config_file)
    console = make_console()
    run = for_config(cfg).train(console, detach=detach)
    if detach and run.status != "succeeded":
        console.print(f"[bold]detached[/]: run {run.id} is training; follow it: "
                      f"{program()} logs -F {run.id} -f {config_file}")
        return
    console.print(f"[bold green]trained[/]: run {run.id}; serve it with: "
                  f"{program()} serve --run {run.id} -f {config_file}")


@click.command()
@file_option
@click.option("--run", "run_id", required=True, help="The run to serve (see `kit runs`).")
@click.option("--force", is_flag=True, help="Serve it even though the evaluation gate rejected it.")
def serve(config_file: Path, run_id: str, force: bool) -> None:
    """Roll the inference server to RUN (also how to roll back), then smoke-test it."""
    from kit.target import for_config
    from kit.terminal import make_console

    cfg = load_config(config_file)
    console = make_console()
    from kit.recorded import remember

    try:
        result = for_config(cfg).serve(console, run_id, force=force)
    finally:                       # `kit down` can stop what it made even if kit.yaml breaks
        if cfg.workdir.exists():   # (a preflight that fails leaves nothing, this included)
            remember(cfg)
    console.print(f"[bold green]serving[/] run {result['run_id']} at {result['endpoint']}")


@click.command(name="cluster-token", hidden=True)
@click.argument("target")
@click.argument("args", nargs=-1)
def cluster_token(target: str, args: tuple[str, ...]) -> None:
    """Print an ExecCredential for a cluster the kit created (its kubeconfig's exec plugin).

    Why the kit itself: the cluster's kubeconfig then needs no cloud CLI or auth plugin
    (gcloud's, kubelogin): the token comes from the cloud's own SDK credentials."""
    from kit.cluster.credential import exec_credential

    click.echo(exec_credential(target, *args))
