"""prices: the dated price catalog estimates use (`kit plan`, `kit up`)."""

from __future__ import annotations

from pathlib import Path

import click

from kit.commands import file_option, load_config


@click.group()
def prices() -> None:
    """Cloud price catalogs for the time and cost estimates."""


@prices.command("update")
@file_option
def update(config_file: Path) -> None:
    """Fetch current on-demand and spot prices of the GPU pool's machine types from the cloud's
    price API, for kit.yaml's region (never done by `kit up`)."""
    from kit.estimate.prices import catalog_for, updated_path
    from kit.jsonio import write_json
    from kit.targets import support_for

    cfg = load_config(config_file)
    support = support_for(cfg.target)
    price_update = support.use(support.price_update)
    types = sorted({t for offer in support.gpu_catalog for t in offer.machine_types})
    fresh = price_update(cfg, types)
    current = catalog_for(support, cfg.workdir)
    regions = {**current.regions, **fresh["regions"]}
    path = updated_path(cfg.workdir, support.target)
    write_json(path, {**fresh, "regions": regions})
    known = sum(1 for entry in fresh["regions"][cfg.region].values() if entry.get("on_demand"))
    click.echo(f"{known} of {len(types)} machine types priced in {cfg.region} ({fresh['date']}); "
               f"wrote {path}")
