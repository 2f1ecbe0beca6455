"""`kit plan`: what `kit up` would create. --offline needs no credentials and no Pulumi CLI."""

from __future__ import annotations

from pathlib import Path

import click

from kit.commands import file_option, load_config, output_option, print_json


@click.command("plan")
@file_option
@output_option
@click.option("--offline", is_flag=True,
              help="Run the stack under Pulumi's mock runtime: no credentials, no Pulumi CLI.")
@click.option("--purge", is_flag=True, help="Plan with --purge semantics (kit buckets not retained).")
def plan(config_file: Path, output: str, offline: bool, purge: bool) -> None:
    """Show every resource `kit up` would create, with its settings, before anything exists."""
    cfg = load_config(config_file)
    if offline:
        from kit.infra.plan import offline_plan
        from kit.infra.report import render_text, to_json

        result = offline_plan(cfg, purge=purge)
        if output == "json":
            print_json(to_json(result))
        else:
            render_text(result)
        return
    from kit.infra.preview import preview

    if output == "json":
        print_json({"stack": cfg.name, "changes": preview(cfg, purge=purge,
                                                           on_output=lambda _line: None)})
    else:
        preview(cfg, purge=purge, on_output=lambda line: click.echo(line, nl=False))
