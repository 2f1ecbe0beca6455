"""init, up, down, status: the life of a deployment."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from kit.commands import file_option, load_config, output_option, print_json, yes_option


@click.command()
@click.option("-f", "--file", "config_file", default="kit.yaml", show_default=True,
              type=click.Path(path_type=Path), help="Where to write kit.yaml.")
@click.option("--name", default=None, help="Deployment name (default: the folder's name).")
@click.option("--target", default="local", show_default=True,
              help="local, kubernetes, or a cloud this version supports (aws, azure, gcp).")
@click.option("--model", default="demo:tiny-llama", show_default=True,
              help="Hub id, local folder, bucket URI of a mirror, or demo:tiny-llama.")
@click.option("--data", default="data.jsonl", show_default=True, help="Your dataset: path or URI.")
@click.option("--method", type=click.Choice(["lora", "qlora", "full"]), default="lora",
              show_default=True)
@click.option("--region", default=None,
              help="Cloud targets (default: us-east-1 on aws, eastus2 on azure, us-central1 on gcp).")
@click.option("--operator-cidr", "operator_cidrs", multiple=True,
              help="Where you run `kit up` from (network.operator_cidrs; repeatable). Default "
                   "on clouds that need it: this machine's public address, looked up once.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(config_file: Path, name: str | None, target: str, model: str, data: str, method: str,
         region: str | None, operator_cidrs: tuple[str, ...], force: bool) -> None:
    """Write a commented kit.yaml."""
    from kit.scaffold import write_config
    from kit.terminal import program

    path = write_config(config_file, name=name, target=target, model=model, data=data,
                        method=method, region=region, force=force,
                        operator_cidrs=list(operator_cidrs) or None)
    click.echo(f"wrote {path}; next: {program()} up -f {path}")


@click.command()
@file_option
@yes_option
@click.option("--detach", is_flag=True,
              help="Return once the fine-tune Job runs (clusters); `kit logs -F` reattaches.")
def up(config_file: Path, yes: bool, detach: bool) -> None:
    """Validate data, fine-tune, serve and smoke-test. Unchanged work is skipped."""
    import sys

    from kit.infra.blockers import refuse as refuse_blockers
    from kit.target import for_config
    from kit.targets import support_for
    from kit.terminal import make_console, program

    cfg = load_config(config_file)
    support = support_for(cfg.target)
    if detach:
        support.use(support.detaches)  # a one-line error where it trains in the foreground
    refuse_blockers(cfg)               # kit.yaml alone says it cannot work: before anything exists
    console = make_console()
    if support.gpu_pool:               # GPUs, and on a cloud a bill: say what, then ask
        from kit.errors import KitError
        from kit.estimate import estimate
        from kit.views import print_estimate

        guess = estimate(cfg).to_dict()
        print_estimate(guess, console)
        if not yes:
            if not sys.stdin.isatty():
                raise KitError(f"kit up {cfg.name}: needs confirmation to run GPU work (about "
                               f"{guess['train_hours']:.1f} h of fine-tuning), and no terminal to ask on",
                               hint="rerun with --yes")
            click.confirm("Go ahead?", default=False, abort=True)
    from kit.recorded import remember

    try:
        result = for_config(cfg).up(console, detach=detach)
    finally:                       # `kit down` can stop what it made even if kit.yaml breaks
        if cfg.workdir.exists():   # (a preflight that fails leaves nothing, this included)
            remember(cfg)
    if detach and not result.get("endpoint"):
        console.print(f"[bold]detached[/]: run {result.get('run_id')} is training; "
                      f"follow it with: {program()} logs -F -f {config_file}")
        return
    console.print(f"[bold green]ready[/]: endpoint {result['endpoint']}  run {result['run_id']}")
    console.print(f"  try: {program()} chat -f {shlex.quote(str(config_file))} "
                  f"{shlex.quote(cfg.serving.smoke_prompt)}", markup=False, highlight=False)


@click.command()
@file_option
@yes_option
@click.option("--purge", is_flag=True, help="Also delete the kit's own runs and staged models.")
def down(config_file: Path, yes: bool, purge: bool) -> None:
    """Stop serving. Runs and data are kept; --purge removes the kit's own artifacts.
    Works while kit.yaml has an error: the deployment is torn down as `kit up` recorded it."""
    from kit.errors import KitError
    from kit.target import for_config
    from kit.targets import support_for
    from kit.terminal import make_console

    try:
        cfg = load_config(config_file)
    except KitError as exc:
        from kit.recorded import from_state

        cfg = from_state(config_file, exc)
        click.echo(f"warning: {exc.one_line()}", err=True)
        click.echo(f"warning: so tearing down {cfg.name} (target {cfg.target}) as `kit up` "
                   f"recorded it in {cfg.workdir.state}", err=True)
    support = support_for(cfg.target)
    if support.can(support.build) and not purge and not yes:   # a stack to destroy
        import sys

        if not sys.stdin.isatty():
            raise KitError(f"kit down {cfg.name}: destroys the stack (cluster, network, workloads) and "
                           "needs confirmation, and there is no terminal to ask on",
                           hint="rerun with --yes (the kit's buckets and key are kept without --purge)")
        click.confirm(f"Destroy the stack of {cfg.name} (its buckets and key are kept)?",
                      default=False, abort=True)
    if purge and not yes:
        typed = click.prompt(f"This deletes every run, model and log the kit made for "
                             f"{cfg.name!r} (your data is not touched). Type the name to confirm",
                             default="", show_default=False)
        if typed.strip() != cfg.name:
            raise click.Abort()
    console = make_console()
    done = for_config(cfg).down(console, purge=purge)
    for line in done or ["nothing was running"]:
        console.print(f"  {line}")
    if not purge:
        console.print("  runs and data kept (use --purge to delete the kit's own artifacts)")


@click.command()
@file_option
@output_option
def status(config_file: Path, output: str) -> None:
    """Endpoint, health, current run and phase states."""
    from kit.target import for_config

    info = for_config(load_config(config_file)).status()
    if output == "json":
        print_json(info)
        return
    from kit.views import print_status

    print_status(info)
