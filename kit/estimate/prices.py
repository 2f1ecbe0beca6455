"""Price catalogs: each cloud ships one, dated, in its folder (stacks/<cloud>/prices.json,
named by CloudSupport.prices); `kit prices update` asks the cloud's price API and writes a
newer one beside the deployment (.kit/prices/<cloud>.json), which wins when present. Never
fetched at `kit up` time: an estimate uses what is on disk.

    {"source": "...", "date": "YYYY-MM-DD", "currency": "USD",
     "regions": {"us-east-1": {"g6.xlarge": {"on_demand": 0.8048, "spot": 0.35 | null}}}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit.errors import KitError

if TYPE_CHECKING:
    from kit.workdir import Workdir
    from stacks.clouds import CloudSupport


@dataclass(frozen=True)
class Catalog:
    source: str
    date: str
    regions: dict[str, dict[str, dict[str, float | None]]]

    def price(self, region: str, instance: str, *, spot: bool) -> tuple[float, str] | None:
        """(USD an hour, "spot" or "on-demand"): spot when asked and known, else on-demand."""
        entry = (self.regions.get(region) or {}).get(instance)
        if not entry:
            return None
        if spot and entry.get("spot") is not None:
            return float(entry["spot"]), "spot"
        if entry.get("on_demand") is None:
            return None
        return float(entry["on_demand"]), "on-demand"


def parse(data: dict[str, Any], where: str) -> Catalog:
    try:
        return Catalog(source=str(data["source"]), date=str(data["date"]), regions=dict(data["regions"]))
    except (KeyError, TypeError):
        raise KitError(f"{where}: not a price catalog (source, date, regions)",
                       hint="kit prices update writes a fresh one") from None


def shipped(support: "CloudSupport") -> Catalog:
    package, _, name = support.prices.partition(":")
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    return parse(json.loads(text), f"{package}/{name}")


def updated_path(workdir: "Workdir", target: str) -> Path:
    return workdir.kit_dir / "prices" / f"{target}.json"


def catalog_for(support: "CloudSupport", workdir: "Workdir") -> Catalog:
    """The newest of the shipped catalog and one `kit prices update` wrote."""
    base = shipped(support)
    path = updated_path(workdir, support.target)
    if path.exists():
        fresh = parse(json.loads(path.read_text(encoding="utf-8")), str(path))
        if fresh.date >= base.date:
            return fresh
    return base
