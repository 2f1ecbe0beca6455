"""Time and cost before anything exists: the estimate's arithmetic, its sources, the price
catalogs and what a finished run teaches the next estimate."""

from __future__ import annotations

import json

import pytest

from kit.config import parse
from kit.estimate import estimate
from kit.estimate.prices import catalog_for, updated_path
from kit.estimate.throughput import learn
from stacks.clouds import cloud_support

TOKENS = 2_000_000          # an epoch, given: no data is read


def cfg(tmp_path, **over):
    raw = {"name": "acme", "target": "aws", "region": "us-east-1",
           "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"}, "data": {"uri": "s3://d/x/"},
           "gpu": {"type": "l4", "count": 1, "max_nodes": 2}, "training": {"method": "lora", "epochs": 3}}
    for key, value in over.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return parse(raw, base_dir=tmp_path)


def compute_hours(e, base) -> float:
    """The estimate's hours less the fixed start-up overhead of the same pool."""
    return e.train_hours - base


def test_doubling_the_epochs_doubles_the_training_time_and_cost(tmp_path):
    three = estimate(cfg(tmp_path), tokens=TOKENS)
    six = estimate(cfg(tmp_path, training={"epochs": 6}), tokens=TOKENS)
    overhead = estimate(cfg(tmp_path), tokens=1).train_hours       # almost all start-up
    assert six.train_tokens == 2 * three.train_tokens
    assert compute_hours(six, overhead) == pytest.approx(2 * compute_hours(three, overhead), rel=0.01)
    assert 1.8 < six.train_cost_usd / three.train_cost_usd <= 2.0


def test_a_faster_gpu_trains_sooner(tmp_path):
    l4 = estimate(cfg(tmp_path), tokens=TOKENS)
    l40s = estimate(cfg(tmp_path, gpu={"type": "l40s"}), tokens=TOKENS)
    assert (l4.instance_type, l40s.instance_type) == ("g6.xlarge", "g6e.xlarge")
    assert l40s.tokens_per_s > l4.tokens_per_s and l40s.train_hours < l4.train_hours


def test_cost_is_hours_times_nodes_times_the_catalog_price(tmp_path):
    e = estimate(cfg(tmp_path, training={"method": "full"}), tokens=TOKENS)
    assert e.nodes == 2                                   # full fine-tuning spans the pool
    assert e.train_cost_usd == pytest.approx(e.train_hours * 2 * 0.8048, abs=0.01)
    assert e.serve_usd_per_hour == pytest.approx(0.80, abs=0.01)
    assert e.price_date == "2025-06-01" and "(on-demand)" in e.price_source


def test_an_existing_cluster_shows_time_and_costs_only_with_a_given_rate(tmp_path):
    k8s = {"target": "kubernetes", "region": None, "kubernetes": {"context": "x"},
           "storage": {"artifacts_uri": "s3://a", "models_uri": "s3://m", "bucket_owner": "123456789012"}}
    plain = estimate(cfg(tmp_path, **k8s), tokens=TOKENS)
    assert plain.train_hours > 0 and plain.train_cost_usd is None and plain.instance_type is None
    priced = estimate(cfg(tmp_path, **k8s, gpu={"usd_per_hour": 2.5}), tokens=TOKENS)
    assert priced.train_cost_usd == pytest.approx(priced.train_hours * 2.5, abs=0.01)
    assert priced.price_source == "gpu.usd_per_hour in kit.yaml"


def test_without_readable_data_the_estimate_says_what_it_assumed(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")      # nothing listens
    e = estimate(cfg(tmp_path))
    assert e.train_tokens == int(1000 * 750 * 3 * (1 + 0.05 / 3))
    assert e.assumptions[0].startswith("assumed a LIMA-sized set, 1,000 examples x 750 tokens")


def test_a_local_file_is_counted(tmp_path):
    from tests.conftest import ROOT

    data = str(ROOT / "examples" / "quickstart" / "data.jsonl")
    local = cfg(tmp_path, target="local", region=None, data={"uri": data}, serving={"engine": "transformers"})
    e = estimate(local)
    assert e.assumptions[0].startswith("50 examples,") and "4 characters a token" in e.assumptions[0]


def test_a_finished_run_teaches_the_next_estimate(tmp_path):
    c = cfg(tmp_path)
    before = estimate(c, tokens=TOKENS)
    learn(c.workdir.throughput, c.model.id, "l4", "lora", "run-1", tokens_per_s=600.0, gpus=1)
    after = estimate(c, tokens=TOKENS)
    assert after.tokens_per_s == 600.0 and after.train_hours > before.train_hours
    assert any("measured by run run-1" in a for a in after.assumptions)


def test_aws_spot_prices_are_the_lowest_zone_of_each_type():
    from stacks.aws.prices import spot_prices

    class Paginator:
        def paginate(self, **kw):
            assert kw["ProductDescriptions"] == ["Linux/UNIX"]
            history = [{"InstanceType": "g6.xlarge", "AvailabilityZone": z, "SpotPrice": p}
                       for z, p in (("us-east-1a", "0.3821"), ("us-east-1b", "0.3519"))]
            return type("R", (), {"build_full_result": lambda self: {"SpotPriceHistory": history}})()

    class EC2:
        def get_paginator(self, name):
            assert name == "describe_spot_price_history"
            return Paginator()

    assert spot_prices(EC2(), ["g6.xlarge", "g5.xlarge"]) == {"g6.xlarge": 0.3519}


def test_a_newer_fetched_catalog_wins_and_spot_is_used_when_known(tmp_path):
    c = cfg(tmp_path, gpu={"spot": True})
    path = updated_path(c.workdir, "aws")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"source": "fetched", "date": "2026-11-29", "regions": {
        "us-east-1": {"g6.xlarge": {"on_demand": 0.9, "spot": 0.3}}}}))
    assert catalog_for(cloud_support("aws"), c.workdir).source == "fetched"
    e = estimate(c, tokens=TOKENS)
    assert e.price_source == "fetched (spot)" and e.train_cost_usd == pytest.approx(e.train_hours * 0.3, abs=0.01)
