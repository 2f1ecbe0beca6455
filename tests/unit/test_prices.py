"""The shipped price catalogs and `kit prices update`'s Azure source, against a fake Retail
Prices API on loopback answering in the documented shape
(https://learn.microsoft.com/en-us/rest/api/cost-management/retail-prices/azure-retail-prices,
read 2026-12-07: GET with an OData $filter, {"BillingCurrency", "Items": [...], "NextPageLink"}
pages, items carrying armRegionName, armSkuName, skuName, productName, retailPrice,
unitOfMeasure; Spot meters are named "... Spot", Windows ones live in a "... Windows" product)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kit.config import load, parse
from kit.estimate import estimate
from kit.estimate.prices import shipped
from stacks.clouds import cloud_support


def cfg(tmp_path, target, region, gpu, **extra):
    return parse({"name": "acme", "target": target, "region": region,
                  "model": {"id": "acme/Model-8B"}, "data": {"uri": extra.pop("uri")},
                  "gpu": gpu, "training": {"method": "lora"}, **extra}, base_dir=tmp_path)


def gcp(tmp_path, region="us-central1", gpu=None):
    return cfg(tmp_path, "gcp", region, gpu or {"type": "l4", "count": 1}, uri="gs://d/x/",
               gcp={"project": "acme-ml-prod"})


def test_the_gcp_example_region_is_priced_for_every_machine_type_with_a_published_price(tmp_path):
    catalog = shipped(cloud_support("gcp"))
    machines = {m for offer in cloud_support("gcp").gpu_catalog for m in offer.machine_types}
    priced = set(catalog.regions["us-central1"])
    assert priced == machines - {"a3-megagpu-8g", "a3-ultragpu-8g"}   # not published in us-central1
    e = estimate(gcp(tmp_path), tokens=10**6)
    assert e.instance_type == "g2-standard-4" and e.train_cost_usd is not None
    assert e.serve_usd_per_hour == pytest.approx(0.71, abs=0.01)
    spot = estimate(gcp(tmp_path, gpu={"type": "l4", "count": 1, "spot": True}), tokens=10**6)
    assert "(spot)" in spot.price_source and spot.serve_usd_per_hour < e.serve_usd_per_hour


def test_a_machine_type_or_region_without_a_published_price_is_named(tmp_path):
    h200 = estimate(gcp(tmp_path, gpu={"type": "h200", "count": 8}), tokens=10**6)
    assert h200.train_cost_usd is None
    assert any("no published price for a3-ultragpu-8g in us-central1" in a for a in h200.assumptions)
    mars = estimate(gcp(tmp_path, region="mars-north1"), tokens=10**6)
    assert mars.train_cost_usd is None
    assert any("no published price for mars-north1" in a for a in mars.assumptions)


def test_gcp_prices_update_says_why_it_cannot_refresh(tmp_path):
    from kit.errors import KitError

    with pytest.raises(KitError, match="API key"):
        cloud_support("gcp").price_update(gcp(tmp_path), ["g2-standard-4"])


class RetailPrices(BaseHTTPRequestHandler):
    """Two pages per SKU: Linux on demand and Spot, then Windows and Low Priority meters."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        RetailPrices.seen.append(query.get("$filter", [""])[0])
        size = query["$filter"][0].split("armSkuName eq '")[1].split("'")[0]
        base = {"armRegionName": "eastus2", "armSkuName": size, "unitOfMeasure": "1 Hour",
                "type": "Consumption", "currencyCode": "USD"}
        if "page" not in query:
            items = [{**base, "skuName": "NC40ads H100 v5", "productName": "Virtual Machines NCadsH100v5 Series",
                      "retailPrice": 6.98},
                     {**base, "skuName": "NC40ads H100 v5 Spot", "productName": "Virtual Machines NCadsH100v5 Series",
                      "retailPrice": 1.75}]
            nxt = f"http://127.0.0.1:{self.server.server_port}/api/retail/prices?" + urllib.parse.urlencode(
                {"$filter": query["$filter"][0], "page": "2"})
        else:
            items = [{**base, "skuName": "NC40ads H100 v5",
                      "productName": "Virtual Machines NCadsH100v5 Series Windows", "retailPrice": 8.82},
                     {**base, "skuName": "NC40ads H100 v5 Low Priority",
                      "productName": "Virtual Machines NCadsH100v5 Series", "retailPrice": 0.5}]
            nxt = None
        body = json.dumps({"BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
                           "Items": items, "NextPageLink": nxt, "Count": len(items)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


def test_azure_prices_update_reads_every_page_and_keeps_linux_on_demand_and_spot(tmp_path, monkeypatch):
    import stacks.azure.prices as azure

    server = ThreadingHTTPServer(("127.0.0.1", 0), RetailPrices)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(azure, "API", f"http://127.0.0.1:{server.server_port}/api/retail/prices")
        config = cfg(tmp_path, "azure", "eastus2", {"type": "h100", "count": 1}, uri="az://acme/data/sft/",
                     azure={"subscription_id": "11111111-2222-3333-4444-555555555555"})
        fresh = azure.fetch(config, ["Standard_NC40ads_H100_v5"])
    finally:
        server.shutdown()
    assert fresh["regions"] == {"eastus2": {"Standard_NC40ads_H100_v5": {"on_demand": 6.98, "spot": 1.75}}}
    assert "armRegionName eq 'eastus2'" in RetailPrices.seen[0] and "priceType eq 'Consumption'" in RetailPrices.seen[0]
    assert len(RetailPrices.seen) == 2                                   # the NextPageLink was followed


OFFER = [
    ['"FormatVersion"', '"v1.0"'], ['"Disclaimer"', '"This pricing list is for informational purposes only."'],
    ['"Publication Date"', '"2026-11-30T21:04:12Z"'], ['"Version"', '"20261130210412"'],
    ['"OfferCode"', '"AmazonEC2"'],
]
COLUMNS = ["SKU", "OfferTermCode", "RateCode", "TermType", "PriceDescription", "EffectiveDate", "StartingRange",
           "EndingRange", "Unit", "PricePerUnit", "Currency", "Instance Type", "Tenancy", "Operating System",
           "CapacityStatus", "Pre Installed S/W", "MarketOption", "Region Code"]


def offer_row(instance, price, term="OnDemand", tenancy="Shared", os_="Linux", capacity="Used", sw="NA",
              market="OnDemand"):
    values = {"SKU": "X", "TermType": term, "Unit": "Hrs", "PricePerUnit": price, "Currency": "USD",
              "Instance Type": instance, "Tenancy": tenancy, "Operating System": os_, "CapacityStatus": capacity,
              "Pre Installed S/W": sw, "MarketOption": market, "Region Code": "us-east-1"}
    return [values.get(c, "") for c in COLUMNS]


class OfferFile(BaseHTTPRequestHandler):
    paths: list[str] = []

    def do_GET(self):  # noqa: N802
        import csv
        import io

        OfferFile.paths.append(self.path)
        out = io.StringIO()
        for meta in OFFER:
            out.write(",".join(meta) + "\n")
        writer = csv.writer(out, quoting=csv.QUOTE_ALL)
        writer.writerow(COLUMNS)
        for row in (offer_row("p5.48xlarge", "9.9", term="Reserved"),          # not on demand
                    offer_row("p5.48xlarge", "99.0", os_="Windows"),
                    offer_row("p5.48xlarge", "60.0", tenancy="Dedicated"),
                    offer_row("p5.48xlarge", "0.0", capacity="UnusedCapacityReservation"),
                    offer_row("p5.48xlarge", "31.4", market="CapacityBlock"),
                    offer_row("p5.48xlarge", "55.04"),
                    offer_row("g6.xlarge", "0.8048"),
                    offer_row("m5.large", "0.096")):
            writer.writerow(row)
        body = out.getvalue().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


def test_aws_prices_update_reads_the_public_offer_file_without_credentials(tmp_path, monkeypatch):
    import stacks.aws.prices as aws

    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), OfferFile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(aws, "OFFER_URL", f"http://127.0.0.1:{server.server_port}/offers/v1.0/aws/AmazonEC2/"
                                              "current/{region}/index.csv")
        config = cfg(tmp_path, "aws", "us-east-1", {"type": "h100", "count": 8}, uri="s3://d/x/",
                     aws={"account_id": "123456789012"})
        fresh = aws.fetch(config, ["p5.48xlarge", "g6.xlarge", "p5en.48xlarge"])
    finally:
        server.shutdown()
    assert OfferFile.paths == ["/offers/v1.0/aws/AmazonEC2/current/us-east-1/index.csv"]
    assert fresh["regions"]["us-east-1"] == {"p5.48xlarge": {"on_demand": 55.04, "spot": None},
                                             "g6.xlarge": {"on_demand": 0.8048, "spot": None},
                                             "p5en.48xlarge": {"on_demand": None, "spot": None}}
    assert fresh["date"] == "2026-11-30" and "needs AWS credentials" in fresh["source"]


def test_the_aws_example_is_priced_and_an_unpublished_sku_is_named(tmp_path):
    aws = {"aws": {"account_id": "123456789012"}}
    h100 = estimate(cfg(tmp_path, "aws", "us-east-1", {"type": "h100", "count": 8, "max_nodes": 2},
                        uri="s3://d/x/", **aws), tokens=10**6)
    assert h100.instance_type == "p5.48xlarge" and h100.serve_usd_per_hour == pytest.approx(55.04)
    h200 = estimate(cfg(tmp_path, "aws", "us-east-1", {"type": "h200", "count": 8}, uri="s3://d/x/", **aws),
                    tokens=10**6)
    assert h200.train_cost_usd is None
    assert any("no published price for p5e.48xlarge in us-east-1" in a for a in h200.assumptions)


def azure(tmp_path, gpu):
    return cfg(tmp_path, "azure", "eastus2", gpu, uri="az://acme/data/sft/",
               azure={"subscription_id": "11111111-2222-3333-4444-555555555555"})


def test_the_azure_example_region_is_priced_and_an_unpublished_size_is_named(tmp_path):
    """stacks/azure/prices.json: SkyPilot's Azure catalog (Retail Prices API figures) at
    https://github.com/skypilot-org/skypilot-catalog/blob/098741e70562f65d7af1cceb81e33b284f742604/catalogs/v6/azure/vms.csv
    (read 2026-12-07): Standard_NC40ads_H100_v5 eastus2 $6.98 pay-as-you-go (its Spot column repeats
    that price, so no Spot price ships), Standard_NC24ads_A100_v4 eastus2 $3.673 and Spot $0.47749;
    no row at all for Standard_ND96isr_H200_v5."""
    from tests.conftest import ROOT

    (tmp_path / "kit.yaml").write_text((ROOT / "examples" / "azure" / "kit.yaml").read_text())
    example = estimate(load(tmp_path / "kit.yaml"), tokens=10**6)
    assert example.instance_type == "Standard_NC40ads_H100_v5" and example.train_cost_usd is not None
    assert example.serve_usd_per_hour == pytest.approx(6.98)
    assert "(on-demand)" in example.price_source and example.price_date == "2024-08-27"
    a100 = estimate(azure(tmp_path, {"type": "a100", "count": 1}), tokens=10**6)
    spot = estimate(azure(tmp_path, {"type": "a100", "count": 1, "spot": True}), tokens=10**6)
    assert a100.serve_usd_per_hour == pytest.approx(3.67) and spot.serve_usd_per_hour == pytest.approx(0.48)
    assert "(spot)" in spot.price_source
    h100_spot = estimate(azure(tmp_path, {"type": "h100", "count": 1, "spot": True}), tokens=10**6)
    assert h100_spot.serve_usd_per_hour == pytest.approx(6.98)
    assert any("spot price unknown" in a for a in h100_spot.assumptions)
    h200 = estimate(azure(tmp_path, {"type": "h200", "count": 8}), tokens=10**6)
    assert h200.train_cost_usd is None and h200.serve_usd_per_hour is None
    assert any("no published price for Standard_ND96isr_H200_v5 in eastus2" in a for a in h200.assumptions)


def test_kit_prices_update_on_gcp_says_in_one_line_why_it_cannot_refresh():
    from tests.conftest import ROOT, run_kit

    result = run_kit("prices", "update", "-f", str(ROOT / "examples" / "gcp" / "kit.yaml"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Cloud Billing Catalog API needs an API key" in lines[0]
    assert "Traceback" not in result.stderr
