"""`kit data validate` and `kit data push`: check the customer's data, then publish a verified
copy with a manifest. Heavy work is in kit.data; only click is imported at start-up."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kit.commands import file_option, load_config, output_option, print_json

if TYPE_CHECKING:
    from kit.data.validate import Report

MAX_ERRORS_SHOWN = 50
MAX_WARNINGS_PER_KIND = 10


@click.group()
def data() -> None:
    """Check and publish training data (JSONL, CSV, Parquet; local or in a bucket)."""


def _target(path: str | None, config_file: Path, model_dir: str | None,
            max_length: int | None, phi: str | None) -> tuple[str, str | None, int, int | None, str]:
    """PATH or data.uri of kit.yaml (relative to its folder), and the settings that go with it."""
    if path is not None:
        return path, model_dir, max_length or 2048, None, phi or "refuse"
    cfg = load_config(config_file)
    uri = cfg.data.uri
    resolved = cfg.resolve_path(uri)
    if model_dir is None:
        local_model = cfg.resolve_path(cfg.model.id)
        if local_model is not None and local_model.is_dir():
            model_dir = str(local_model)
    return (str(resolved) if resolved is not None else uri, model_dir,
            max_length or cfg.training.max_length, cfg.training.epochs, phi or cfg.data.phi)


def _tokenizer_dir(model: str | None, config_file: Path) -> str | None:
    """--model as a folder the tokenizer loads from: a local model folder as given, a hub id
    (org/name) fetched, tokenizer and config files only, into the kit's model cache beside
    kit.yaml (.kit/models/hub)."""
    if model is None or Path(model).expanduser().is_dir():
        return model
    from kit.data.mirror import _HUB_ID

    if model.startswith((".", "/", "~")) or not _HUB_ID.match(model):
        return model  # a folder that is not there: the token counter says so
    from kit.local.model_store import hub_cache, tokenizer_folder

    return str(tokenizer_folder(model, "main", hub_cache(config_file.resolve().parent / ".kit")))


def print_report(report: "Report") -> None:
    for issue in report.errors[:MAX_ERRORS_SHOWN]:
        click.echo(_with_level(issue, "error"))
    if len(report.errors) > MAX_ERRORS_SHOWN:
        click.echo(f"... and {len(report.errors) - MAX_ERRORS_SHOWN} more errors (--output json lists all)")
    shown: Counter[str] = Counter()
    for issue in report.warnings:
        shown[issue.kind] += 1
        if shown[issue.kind] <= MAX_WARNINGS_PER_KIND:
            click.echo(_with_level(issue, "warning"))
    for kind, count in shown.items():
        if count > MAX_WARNINGS_PER_KIND:
            click.echo(f"... and {count - MAX_WARNINGS_PER_KIND} more '{kind}' warnings "
                       "(--output json lists all)")
    s = report.stats
    tokens = s.get("tokens", {})
    how = f"exact, {s['tokenizer']}" if s.get("tokens_exact") else "estimated; --model for exact"
    click.echo(f"{report.path}: {report.examples} examples in {s.get('files', 0)} file(s), "
               f"{len(report.errors)} errors, {len(report.warnings)} warnings")
    if report.examples:
        total = f", {s['train_tokens_total']:,} over {s['epochs']} epochs" if s.get("epochs") else ""
        click.echo(f"tokens ({how}): p50 {tokens['p50']:,}, p90 {tokens['p90']:,}, "
                   f"p99 {tokens['p99']:,}, max {tokens['max']:,}; total {tokens['total']:,}; "
                   f"training {s['train_tokens_per_epoch']:,} per epoch at max length "
                   f"{s['max_length']:,}{total}; {s['truncated_examples']} truncated "
                   f"({s['tokens_cut']:,} tokens cut)")


def _with_level(issue: Any, level: str) -> str:
    where = f"{issue.source}:{issue.line}" if issue.line else issue.source
    return f"{where}: {level}: {issue.message}"


def _fail_on_errors(report: "Report", what: str, hint: str) -> None:
    from kit.errors import KitError

    if any(e.kind == "phi" for e in report.errors):
        hint += ("; likely PHI (kind and place listed, never the text): de-identify it, or set "
                 "data.phi: warn in kit.yaml (--phi warn) if this deployment may train on PHI")
    if not report.ok:
        raise KitError(f"{report.path}: {len(report.errors)} error(s) in the data; {what}", hint=hint)


@data.command()
@click.argument("path", required=False, metavar="[PATH_OR_URI]")
@click.option("--model", "model_dir", default=None, metavar="DIR_OR_HUB_ID",
              help="Model whose tokenizer and chat template measure the tokens: a local folder, "
                   "or a hub id (its tokenizer files only are fetched into .kit/models/hub).")
@click.option("--max-length", type=click.IntRange(16), default=None,
              help="Max tokens per example (default: training.max_length or 2048).")
@click.option("--phi", type=click.Choice(["refuse", "warn"]), default=None,
              help="Likely PHI is an error (refuse) or a warning (default: data.phi of kit.yaml, "
                   "or refuse for a PATH).")
@file_option
@output_option
def validate(path: str | None, model_dir: str | None, max_length: int | None, phi: str | None,
             config_file: Path, output: str) -> None:
    """Check PATH_OR_URI (or data.uri of kit.yaml): errors exit 1, warnings do not."""
    from kit.data.validate import validate as run

    target, model_dir, max_length, epochs, phi = _target(path, config_file, model_dir,
                                                         max_length, phi)
    model_dir = _tokenizer_dir(model_dir, config_file)
    report = run(target, model_dir=model_dir, max_length=max_length, epochs=epochs, phi=phi)
    if output == "json":
        print_json(report.to_dict())
    else:
        print_report(report)
    _fail_on_errors(report, "nothing can train on it yet",
                    "fix each line listed (file:line: what is wrong), then validate again")


@data.command()
@click.argument("src")
@click.argument("dest_uri")
@click.option("--force", is_flag=True, help="Publish even if validation finds errors.")
@click.option("--model", "model_dir", default=None, metavar="DIR_OR_HUB_ID",
              help="Local model folder or hub id (tokenizer files only) for exact token "
                   "statistics.")
@click.option("--max-length", type=click.IntRange(16), default=2048, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True)
@click.option("--kms-key", default=None, help="Customer key for server-side encryption.")
@output_option
def push(src: str, dest_uri: str, force: bool, model_dir: str | None, max_length: int,
         workers: int, kms_key: str | None, output: str) -> None:
    """Validate SRC, then publish its data files to DEST_URI with a manifest (written last)."""
    from kit.data.push import push as run

    model_dir = _tokenizer_dir(model_dir, Path("kit.yaml"))
    report, result = run(src, dest_uri, force=force, model_dir=model_dir, max_length=max_length,
                         workers=workers, kms_key=kms_key)
    if output == "json":
        print_json({"report": report.to_dict(), "push": result.to_dict() if result else None,
                    "dest": dest_uri})
    else:
        if not report.ok:
            print_report(report)
        if result is not None:
            click.echo(f"pushed {result.files} file(s), {report.examples} examples to {dest_uri}: "
                       f"{result.transferred} uploaded ({result.bytes:,} bytes), "
                       f"{result.skipped} unchanged; fingerprint {result.manifest.fingerprint[:16]}")
    if result is None:
        _fail_on_errors(report, "not pushed",
                        "fix them (kit data validate SRC), or pass --force to publish anyway")
