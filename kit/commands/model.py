"""`kit model mirror`: copy a model's weights (safetensors), config and tokenizer into the
customer's own bucket, so clusters read it with no hub access. Only click at start-up."""

from __future__ import annotations

import click

from kit.commands import output_option, print_json


@click.group()
def model() -> None:
    """Mirror base models into your own storage."""


@model.command()
@click.argument("model_id", metavar="MODEL")
@click.argument("dest_uri")
@click.option("--revision", default="main", show_default=True,
              help="Hub branch, tag or commit (ignored for a local folder).")
@click.option("--allow-pickle", is_flag=True,
              help="Accept pickle weights (*.bin) when the model has no safetensors.")
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True)
@click.option("--kms-key", default=None, help="Customer key for server-side encryption.")
@output_option
def mirror(model_id: str, dest_uri: str, revision: str, allow_pickle: bool, workers: int,
           kms_key: str | None, output: str) -> None:
    """Copy MODEL (hub id or local folder) to DEST_URI with a manifest (written last)."""
    from kit.data.mirror import mirror as run

    result = run(model_id, dest_uri, revision=revision, allow_pickle=allow_pickle,
                 workers=workers, kms_key=kms_key)
    if output == "json":
        print_json({**result.to_dict(), "dest": dest_uri,
                    "revision": result.manifest.meta.get("revision") if result.manifest else None})
        return
    click.echo(f"mirrored {model_id} ({result.manifest.meta.get('revision')}) to {dest_uri}: "
               f"{result.files} files, {result.transferred} uploaded ({result.bytes:,} bytes), "
               f"{result.skipped} unchanged")
