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
@click.option("--examples", type=click.IntRange(1, 10_000_000), default=None,
              help="Estimate for this many examples when the data is not readable from here.")
@click.option("--tokens", type=click.IntRange(1, 10**12), default=None,
              help="Estimate for this many training tokens an epoch.")
def plan(config_file: Path, output: str, offline: bool, purge: bool, examples: int | None,
         tokens: int | None) -> None:
    """Show every resource `kit up` would create, with its settings, and what the fine-tune and
    serving will take in time and money, before anything exists."""
    from kit.estimate import estimate

    cfg = load_config(config_file)
    if offline:
        from kit.infra.plan import offline_plan
        from kit.infra.report import operator_json, render_operator, render_text, to_json

        reachable = operator_json(cfg)     # from the config alone: even if the plan fails
        if output != "json":
            render_operator(reachable)
        result = offline_plan(cfg, purge=purge)
        guess = estimate(cfg, examples=examples, tokens=tokens).to_dict()
        if output == "json":
            print_json({**to_json(result), **reachable, "estimate": guess})
        else:
            from kit.views import print_estimate

            render_text(result)
            print_estimate(guess)
        return
    from kit.infra.preview import preview
    from kit.infra.report import operator_json, render_operator

    reachable = operator_json(cfg)
    if output == "json":
        changes = preview(cfg, purge=purge, on_output=lambda _line: None)
        print_json({"stack": cfg.name, "changes": changes, **reachable,
                    "estimate": estimate(cfg, examples=examples, tokens=tokens).to_dict()})
    else:
        from kit.views import print_estimate

        render_operator(reachable)
        preview(cfg, purge=purge, on_output=lambda line: click.echo(line, nl=False))
        print_estimate(estimate(cfg, examples=examples, tokens=tokens).to_dict())
