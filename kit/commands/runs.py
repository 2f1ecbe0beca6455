"""runs, logs, chat: looking at training runs and talking to the endpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kit.commands import file_option, load_config, output_option, print_json


@click.command()
@file_option
@output_option
def runs(config_file: Path, output: str) -> None:
    """List fine-tune runs, newest first."""
    from kit.target import for_config

    items = for_config(load_config(config_file)).runs()
    if output == "json":
        print_json(items)
        return
    from kit.views import print_runs

    print_runs(items)


@click.command()
@file_option
@click.argument("run_id", required=False)
@click.option("--server", is_flag=True, help="Show the inference server's log instead.")
@click.option("-F", "--follow", "follow", is_flag=True, help="Keep printing while it runs.")
def logs(config_file: Path, run_id: str | None, server: bool, follow: bool) -> None:
    """Print the training log of RUN_ID (default: the latest run)."""
    from kit.target import for_config

    for line in for_config(load_config(config_file)).log_lines(run_id, server=server,
                                                                 follow=follow):
        click.echo(line)


@click.command()
@file_option
@click.argument("prompt", nargs=-1, required=True)
@click.option("--system", default=None,
              help="A system message to send first (default: serving.system_prompt).")
@click.option("--max-tokens", type=click.IntRange(1, 65536), default=None,
              help="Default: serving.max_new_tokens from kit.yaml.")
@click.option("--stream/--no-stream", default=None, help="Default: stream on a terminal.")
def chat(config_file: Path, prompt: tuple[str, ...], system: str | None, max_tokens: int | None,
         stream: bool | None) -> None:
    """Send PROMPT to the endpoint and print the reply."""
    from kit.serving.client import chat as send
    from kit.target import for_config

    cfg = load_config(config_file)
    endpoint = for_config(cfg).endpoint()
    system = system if system is not None else cfg.serving.system_prompt
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": " ".join(prompt)}]
    stream = sys.stdout.isatty() if stream is None else stream
    for piece in send(endpoint, messages, stream=stream,
                      max_tokens=max_tokens or cfg.serving.max_new_tokens):
        click.echo(piece, nl=False)
    click.echo()
