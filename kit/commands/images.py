"""images: pin the container images the charts run to digests."""

from __future__ import annotations

from pathlib import Path

import click

from kit.commands import file_option, load_config, output_option, print_json


@click.group()
def images() -> None:
    """Container images: pin them by digest for the charts."""


@images.command("lock")
@file_option
@output_option
@click.argument("names", nargs=-1)
@click.option("--from", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Install a reviewed lock file instead of asking the registries.")
def lock(config_file: Path, output: str, names: tuple[str, ...], source: Path | None) -> None:
    """Resolve each image's release to its digest; write .kit/<name>/images.json."""
    from kit.images import import_lock, lock_images

    cfg = load_config(config_file)
    refs = import_lock(cfg.workdir, source) if source else lock_images(cfg.workdir,
                                                                        names=list(names) or None)
    if output == "json":
        print_json(refs)
        return
    for name, ref in refs.items():
        click.echo(f"{name:8} {ref}")
    click.echo(f"wrote {cfg.workdir.images_lock}")
