"""`kit prices update` on AWS: on-demand prices from the AWS Price List bulk offer file of
AmazonEC2 for the region (public, no credentials: the CSV whose first five rows are metadata, the
publication date among them, and whose sixth names the columns, https://docs.aws.amazon.com/
awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html, read
2026-12-07), Linux, shared tenancy, no pre-installed software; and, where AWS credentials are
at hand, the current spot price (the lowest across the region's zones) from EC2's spot price
history, which has no public file. Streamed row by row: the region's file is large. Never
called by `kit up`."""

from __future__ import annotations

import csv
import io
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, Iterable

from kit.errors import KitError

if TYPE_CHECKING:
    from kit.config import KitConfig

OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/{region}/index.csv"
# Column -> the value a plain on-demand Linux instance hour has (other rows: other products).
MATCH = {"TermType": "OnDemand", "Operating System": "Linux", "Tenancy": "Shared",
         "Pre Installed S/W": "NA", "CapacityStatus": "Used", "Unit": "Hrs"}


def fetch(cfg: "KitConfig", instance_types: list[str]) -> dict[str, Any]:
    region = cfg.region or ""
    url = OFFER_URL.format(region=region)
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 (https only)
            on_demand, published = read_offer(io.TextIOWrapper(resp, encoding="utf-8", newline=""),
                                              set(instance_types))
    except (urllib.error.URLError, OSError, ValueError, csv.Error) as exc:
        raise KitError(f"aws prices: {url}: {' '.join(str(exc).split())[:200]}",
                       hint="needs HTTPS to pricing.us-east-1.amazonaws.com; or set gpu.usd_per_hour") from None
    spot, spot_how = _spot(region, instance_types)
    prices = {t: {"on_demand": on_demand.get(t), "spot": spot.get(t)} for t in instance_types}
    return {"source": f"AWS Price List bulk offer file, AmazonEC2 {region} (on-demand, Linux, shared "
                      f"tenancy, published {published or 'undated'}); {spot_how}",
            "source_url": url, "read": time.strftime("%Y-%m-%d", time.gmtime()),
            "date": (published or time.strftime("%Y-%m-%d", time.gmtime()))[:10], "currency": "USD",
            "regions": {region: prices}}


def read_offer(lines: Iterable[str], wanted: set[str]) -> tuple[dict[str, float], str | None]:
    """(instance type -> on-demand USD an hour, publication date) from the offer file's CSV."""
    rows = csv.reader(lines)
    published = None
    for _ in range(5):
        meta = next(rows, None)
        if meta and meta[0].strip() == "Publication Date" and len(meta) > 1:
            published = meta[1].strip()
    header = next(rows, None)
    if not header or "Instance Type" not in header or "PricePerUnit" not in header:
        raise ValueError("not an AmazonEC2 offer file (no Instance Type and PricePerUnit columns)")
    col = {name: i for i, name in enumerate(header)}
    checks = [(col[name], value) for name, value in MATCH.items() if name in col]
    market = col.get("MarketOption")
    it, price = col["Instance Type"], col["PricePerUnit"]
    found: dict[str, float] = {}
    for row in rows:
        if len(row) <= max(it, price) or row[it] not in wanted:
            continue
        if any(row[i] != value for i, value in checks) or (market is not None and row[market] not in ("", "OnDemand")):
            continue
        usd = float(row[price] or 0)
        if usd > 0 and (row[it] not in found or usd < found[row[it]]):
            found[row[it]] = usd
    return found, published


def _spot(region: str, instance_types: list[str]) -> tuple[dict[str, float], str]:
    """Spot prices from EC2 where credentials are found, else none (and why)."""
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        return {}, "spot prices not read (EC2's spot price history needs boto3, the aws extra)"
    session = boto3.Session()
    if session.get_credentials() is None:
        return {}, "spot prices not read (EC2's spot price history needs AWS credentials)"
    try:
        return spot_prices(session.client("ec2", region_name=region), instance_types), \
            "spot: EC2 spot price history, lowest zone"
    except (BotoCoreError, ClientError) as exc:
        return {}, f"spot prices not read ({' '.join(str(exc).split())[:120]})"


def spot_prices(ec2: Any, instance_types: list[str]) -> dict[str, float]:
    """The lowest current Linux spot price of each type across the region's zones."""
    lowest: dict[str, float] = {}
    for item in ec2.get_paginator("describe_spot_price_history").paginate(
            InstanceTypes=instance_types, ProductDescriptions=["Linux/UNIX"],
            StartTime=time.time()).build_full_result().get("SpotPriceHistory", []):
        price = float(item["SpotPrice"])
        kind = item["InstanceType"]
        if kind not in lowest or price < lowest[kind]:
            lowest[kind] = price
    return lowest
