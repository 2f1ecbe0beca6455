"""doctor and cluster-token: checking a cluster target before `kit up`, and the credential its
kubeconfig asks the kit for."""

from __future__ import annotations

from pathlib import Path

import click

from kit.commands import file_option, load_config, output_option, print_json


def _cluster_target(cfg):
    from kit.target import for_config
    from kit.targets import support_for

    support = support_for(cfg.target)
    support.use(support.preflight)     # a one-line error where the target has no `kit doctor`
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


@click.command(name="cluster-token", hidden=True)
@click.argument("target")
@click.argument("args", nargs=-1)
def cluster_token(target: str, args: tuple[str, ...]) -> None:
    """Print an ExecCredential for a cluster the kit created (its kubeconfig's exec plugin).

    Why the kit itself: the cluster's kubeconfig then needs no cloud CLI or auth plugin
    (gcloud's, kubelogin): the token comes from the cloud's own SDK credentials."""
    from kit.cluster.credential import exec_credential

    click.echo(exec_credential(target, *args))
