"""Every `kit ...` command a message names exists: hints, fixes and docstrings are walked in
the source (string literals, f-string parts included) and checked against the real CLI."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
# `kit X`, or kit X at the start of a string or after ": ", "; ", "&& ", "$ " (a command line).
MENTION = re.compile(r"(?:`|^|: |; |&& |\$ )kit ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?([^`)\n]*)")


def options(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in getattr(param, "opts", [])
            if opt.startswith("--")} | {"--help"}


def command_tree() -> dict[str, dict[str, set[str]]]:
    """command -> subcommand ("" for the command itself) -> its --options."""
    from kit.cli import cli

    ctx = click.Context(cli)
    tree: dict[str, dict[str, set[str]]] = {}
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        subs = {"": options(command)}
        if isinstance(command, click.Group):
            subs.update({s: options(command.get_command(ctx, s)) for s in command.list_commands(ctx)})
        tree[name] = subs
    return tree


def strings(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append((node.lineno, node.value))
    return out


def mentions(text: str) -> list[tuple[str, str | None, list[str]]]:
    """(command, next word, --options named after it) for each `kit ...` in the text."""
    return [(m.group(1), m.group(2), re.findall(r"(?<![\w-])--[a-z][a-z-]*", m.group(3)))
            for line in text.splitlines() for m in MENTION.finditer(line)]


def problems(text: str, tree: dict[str, dict[str, set[str]]]) -> list[str]:
    found = []
    for command, word, flags in mentions(text):
        if command not in tree:
            found.append(f"no command `kit {command}`")
            continue
        subs = tree[command]
        sub = word if len(subs) > 1 else ""
        if sub not in subs:
            found.append(f"no command `kit {command} {word}`")
            continue
        name = " ".join(filter(None, ("kit", command, sub)))
        found += [f"`{name}`: no option {f}" for f in flags if f not in subs[sub]]
    return found


def test_every_command_a_message_names_exists():
    tree = command_tree()
    bad = []
    for path in sorted([*(ROOT / "kit").rglob("*.py"), *(ROOT / "stacks").rglob("*.py")]):
        for line, text in strings(path):
            bad += [f"{path.relative_to(ROOT)}:{line}: {p}" for p in problems(text, tree)]
    assert bad == []


def test_the_walker_sees_hints_and_catches_what_does_not_exist():
    tree = command_tree()
    assert mentions("run `kit up` again") == [("up", None, [])]
    assert mentions("the kit creates it") == []
    assert problems("kit images push kit --registry X", tree) == []
    assert problems("then `kit images publish`", tree) == ["no command `kit images publish`"]
    assert problems("fix: kit frobnicate", tree) == ["no command `kit frobnicate`"]
    assert problems("kit down --purge --everything", tree) == ["`kit down`: no option --everything"]
