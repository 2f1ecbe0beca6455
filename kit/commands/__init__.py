"""Click commands, grouped by concern. Each module imports only click at the top."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

if TYPE_CHECKING:
    from kit.config import KitConfig

DEBUG = {"on": False}


def _mark_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        DEBUG["on"] = True
    return value


def debug_option(fn: Callable) -> Callable:
    return click.option("--debug", is_flag=True, expose_value=False, callback=_mark_debug,
                        is_eager=True, help="Show tracebacks and verbose logs.")(fn)


def file_option(fn: Callable) -> Callable:
    """-f/--file and --debug, shared by every command that reads kit.yaml."""
    fn = debug_option(fn)
    return click.option("-f", "--file", "config_file", default="kit.yaml", show_default=True,
                        type=click.Path(dir_okay=True, path_type=Path),
                        help="Path to kit.yaml.")(fn)


def output_option(fn: Callable) -> Callable:
    return click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text",
                        show_default=True, help="Output format.")(fn)


def yes_option(fn: Callable) -> Callable:
    return click.option("-y", "--yes", is_flag=True,
                        help="Do not ask for confirmation.")(fn)


def load_config(path: Path) -> "KitConfig":
    from kit.config import load

    return load(path)


def print_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, default=str))
