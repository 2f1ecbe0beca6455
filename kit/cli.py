"""The `kit` command. Thin by design: parse flags, call one function, print.

Start-up must stay fast (`kit --help` in well under 0.15 s): this module and the command
modules import only click at the top; config, rich, torch and cloud SDKs load inside the
commands that need them.
"""

from __future__ import annotations

import sys

import click

from kit import __version__
from kit.commands import DEBUG

# name -> "module:attribute". A command module is imported only when listed or run, and only
# modules present in this install are listed (so a slim image without, say, the Pulumi layer
# still has a working CLI).
COMMANDS = {
    "init": "kit.commands.lifecycle:init",
    "up": "kit.commands.lifecycle:up",
    "down": "kit.commands.lifecycle:down",
    "status": "kit.commands.lifecycle:status",
    "runs": "kit.commands.runs:runs",
    "logs": "kit.commands.runs:logs",
    "chat": "kit.commands.runs:chat",
    "eval": "kit.commands.runs:evaluate",
    "bench": "kit.commands.bench:bench",
    "prices": "kit.commands.prices:prices",
    "data": "kit.commands.data:data",
    "model": "kit.commands.model:model",
    "render": "kit.commands.render:render",
    "plan": "kit.commands.plan:plan",
    "images": "kit.commands.images:images",
    "doctor": "kit.commands.doctor:doctor",
    "train": "kit.commands.runs:train",
    "serve": "kit.commands.runs:serve",
    "cluster-token": "kit.commands.doctor:cluster_token",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        import importlib.util

        present = [n for n, t in COMMANDS.items() if importlib.util.find_spec(t.split(":")[0])]
        return present + sorted(super().list_commands(ctx))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            import importlib

            module, _, attr = COMMANDS[name].partition(":")
            try:
                return getattr(importlib.import_module(module), attr)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
                return None
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="kit")
@click.option("--debug", is_flag=True, help="Show tracebacks and verbose logs.")
def cli(debug: bool) -> None:
    """lima-kit: fine-tune an open LLM on your private data and serve it inside your network.

    \b
    Quick start (one machine, offline, a tiny smoke-test model):
      kit init --target local --model demo:tiny-llama --data data.jsonl
      kit up --yes
      kit chat "Draft a prior-authorization letter for an MRI."
      kit down
    """
    if debug:
        DEBUG["on"] = True


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: KitError -> one line on stderr and exit 1; tracebacks only with --debug."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args:
        DEBUG["on"] = True
    from kit.errors import KitError

    try:
        cli.main(args=args, prog_name="kit", standalone_mode=False)
    except KitError as exc:
        if DEBUG["on"]:
            raise
        click.echo(f"{exc.label}: {exc.one_line()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):    # Ctrl-C: click makes it an Abort
            click.echo("interrupted", err=True)
            sys.exit(130)
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: say so in one line, full detail behind --debug
        if DEBUG["on"]:
            raise
        click.echo(f"error: internal error: {type(exc).__name__}: {exc} "
                   "(hint: rerun with --debug for the traceback and report it)", err=True)
        sys.exit(1)
