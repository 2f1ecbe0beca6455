"""`kit prices update` on Azure: pay-as-you-go and Spot prices of the GPU catalog's VM sizes in
one region, from Azure's public Retail Prices API (no credentials). Linux prices only (the
Windows meters are skipped); never called by `kit up`."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from kit.errors import KitError

if TYPE_CHECKING:
    from kit.config import KitConfig

API = "https://prices.azure.com/api/retail/prices"


def fetch(cfg: "KitConfig", instance_types: list[str]) -> dict[str, Any]:
    region = cfg.region or ""
    items: list[dict[str, Any]] = []
    for size in instance_types:
        flt = (f"serviceName eq 'Virtual Machines' and armRegionName eq '{region}' and "
               f"armSkuName eq '{size}' and priceType eq 'Consumption'")
        url: str | None = f"{API}?{urllib.parse.urlencode({'$filter': flt})}"
        while url:
            try:
                with urllib.request.urlopen(url, timeout=20) as resp:  # noqa: S310 (https only)
                    page = json.loads(resp.read())
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise KitError(f"azure prices: {' '.join(str(exc).split())[:200]}",
                               hint="needs HTTPS to prices.azure.com; or set gpu.usd_per_hour") from None
            items += page.get("Items") or []
            url = page.get("NextPageLink")
    return build(region, instance_types, items)


def build(region: str, instance_types: list[str], items: list[dict[str, Any]],
          today: str | None = None) -> dict[str, Any]:
    """The catalog for one region from the API's price items: the lowest Linux hourly price of
    each size, on demand and Spot ("Low Priority" meters are the retired predecessor: skipped)."""
    prices: dict[str, dict[str, float | None]] = {s: {"on_demand": None, "spot": None} for s in instance_types}
    for item in items:
        size, sku = item.get("armSkuName"), str(item.get("skuName", ""))
        entry = prices.get(size)
        if (entry is None or item.get("armRegionName") != region or "Windows" in str(item.get("productName"))
                or "Low Priority" in sku or item.get("unitOfMeasure") != "1 Hour"):
            continue
        kind = "spot" if "Spot" in sku else "on_demand"
        price = float(item.get("retailPrice") or item.get("unitPrice") or 0)
        if price > 0 and (entry[kind] is None or price < entry[kind]):
            entry[kind] = price
    return {"source": "Azure Retail Prices API (Linux pay-as-you-go and Spot, lowest meter)",
            "date": today or time.strftime("%Y-%m-%d", time.gmtime()), "currency": "USD",
            "regions": {region: prices}}
