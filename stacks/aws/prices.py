"""`kit prices update` on AWS: on-demand prices from the AWS Price List API (Linux, shared
tenancy, no pre-installed software) and the current spot price (the lowest across the region's
zones) from EC2's spot price history, for the GPU catalog's instance types in one region.
Needs credentials with pricing:GetProducts and ec2:DescribeSpotPriceHistory; never called by
`kit up`."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from kit.errors import KitError, require

if TYPE_CHECKING:
    from kit.config import KitConfig

PRICING_REGION = "us-east-1"       # where the Price List API answers (it covers every region)


def fetch(cfg: "KitConfig", instance_types: list[str]) -> dict[str, Any]:
    boto3 = require("boto3", "aws")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return build(cfg.region or "", instance_types, boto3.client("pricing", region_name=PRICING_REGION),
                     boto3.client("ec2", region_name=cfg.region))
    except (BotoCoreError, ClientError) as exc:
        raise KitError(f"aws prices: {' '.join(str(exc).split())[:200]}",
                       hint="needs credentials with pricing:GetProducts and "
                            "ec2:DescribeSpotPriceHistory (`kit doctor` checks the credentials)") from None


def build(region: str, instance_types: list[str], pricing: Any, ec2: Any,
          today: str | None = None) -> dict[str, Any]:
    """The catalog for one region, from the two APIs' answers."""
    prices: dict[str, dict[str, float | None]] = {}
    for instance in instance_types:
        prices[instance] = {"on_demand": on_demand(pricing, region, instance), "spot": None}
    for item in ec2.get_paginator("describe_spot_price_history").paginate(
            InstanceTypes=instance_types, ProductDescriptions=["Linux/UNIX"],
            StartTime=time.time()).build_full_result().get("SpotPriceHistory", []):
        entry = prices.get(item["InstanceType"])
        price = float(item["SpotPrice"])
        if entry is not None and (entry["spot"] is None or price < entry["spot"]):
            entry["spot"] = price
    return {"source": "AWS Price List API (on-demand, Linux, shared tenancy) and EC2 spot price "
                      "history (lowest zone)",
            "date": today or time.strftime("%Y-%m-%d", time.gmtime()), "currency": "USD",
            "regions": {region: prices}}


def on_demand(pricing: Any, region: str, instance: str) -> float | None:
    filters = [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in (
        ("instanceType", instance), ("regionCode", region), ("operatingSystem", "Linux"),
        ("tenancy", "Shared"), ("preInstalledSw", "NA"), ("capacitystatus", "Used"))]
    for raw in pricing.get_products(ServiceCode="AmazonEC2", Filters=filters,
                                    MaxResults=10).get("PriceList", []):
        product = json.loads(raw) if isinstance(raw, str) else raw
        for term in (product.get("terms") or {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if usd and float(usd) > 0:
                    return float(usd)
    return None
