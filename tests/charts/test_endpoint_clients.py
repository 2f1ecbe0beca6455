"""Who may call the endpoint: serving.client_cidrs, enforced by the internal load balancer,
which still sees the caller's address (externalTrafficPolicy: Local keeps it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from chartkit import TEST_IMAGES, one

from kit.config import parse
from kit.errors import KitError
from kit.render import cluster_for, render_objects


def config(tmp_path: Path, **serving) -> object:
    return parse({"name": "acme", "target": "aws", "region": "us-east-1",
                  "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
                  "data": {"uri": "s3://acme-data/sft/"}, "aws": {"account_id": "123456789012"},
                  "serving": serving}, base_dir=tmp_path)


def service(cfg, private_cidrs: list[str] | None = None) -> dict:
    cluster = cluster_for(cfg)
    if private_cidrs is not None:
        cluster.private_cidrs = private_cidrs
    return one(render_objects(cfg, cluster, images=TEST_IMAGES)["server"], "Service")["spec"]


def test_by_default_only_the_networks_own_ranges_may_call(tmp_path):
    spec = service(config(tmp_path), private_cidrs=["10.42.0.0/16"])
    assert spec["type"] == "LoadBalancer" and spec["externalTrafficPolicy"] == "Local"
    assert spec["loadBalancerSourceRanges"] == ["10.42.0.0/16"]


def test_the_operator_narrows_the_callers(tmp_path):
    spec = service(config(tmp_path, client_cidrs=["10.42.7.0/24", "10.43.0.10/32"]),
                   private_cidrs=["10.42.0.0/16"])
    assert spec["loadBalancerSourceRanges"] == ["10.42.7.0/24", "10.43.0.10/32"]


@pytest.mark.parametrize("cidrs,message", [
    ([], "serving.client_cidrs: empty: nobody could call the endpoint"),
    (["0.0.0.0/0"], "serving.client_cidrs: '0.0.0.0/0' opens it to the whole internet"),
    (["10.0.0.0/33"], "serving.client_cidrs: '10.0.0.0/33'"),
])
def test_client_ranges_that_make_no_sense_are_one_line_errors(tmp_path, cidrs, message):
    with pytest.raises(KitError) as err:
        config(tmp_path, client_cidrs=cidrs)
    assert message in str(err.value) and "\n" not in str(err.value)
