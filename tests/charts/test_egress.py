"""Egress: DNS for every pod, object storage only for pods labelled for it, and nothing
more for the server pod, whose engine and API-key proxy see user prompts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from chartkit import EXAMPLES, TEST_IMAGES, by_kind, load_dir

from kit.config import parse
from kit.render import cluster_for, render_objects
from kit.render.platform import STORAGE_LABEL
from stacks.clouds import cloud_support

DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
HTTPS = [{"protocol": "TCP", "port": 443}]

# target -> (region, data URI, its cloud section: what default outputs need before `kit up`)
CLOUD_CASES = {
    "aws": ("us-east-1", "s3://acme-data/sft/", {"aws": {"account_id": "123456789012"}}),
}


def config(tmp_path: Path, target: str = "kubernetes", **overrides: Any) -> Any:
    region, data, section = CLOUD_CASES.get(target, (None, "s3://acme-data/sft/", {"storage": {
        "artifacts_uri": "s3://acme-kit-artifacts", "models_uri": "s3://acme-kit-models",
        "bucket_owner": "123456789012"}}))
    raw = {"name": "acme", "target": target, "region": region,
           "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"}, "data": {"uri": data}, **section}
    raw.update(overrides)
    return parse(raw, base_dir=tmp_path)


def render(cfg: Any, private_cidrs: list[str] | None = None) -> list[dict[str, Any]]:
    cluster = cluster_for(cfg)
    cluster.private_cidrs = list(private_cidrs or [])
    return [o for objs in render_objects(cfg, cluster, images=TEST_IMAGES).values() for o in objs]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"selector this test cannot evaluate: {selector}"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def egress_of(objects: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    """Every egress rule that any NetworkPolicy grants a pod with these labels."""
    rules = []
    for policy in by_kind(objects, "NetworkPolicy"):
        spec = policy["spec"]
        if "Egress" in spec["policyTypes"] and selects(spec["podSelector"], labels):
            rules.extend(spec.get("egress", []))
    return rules


def pod_labels(objects: list[dict[str, Any]], kind: str) -> dict[str, str]:
    (workload,) = by_kind(objects, kind)
    return workload["spec"]["template"]["metadata"]["labels"]


def policy(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(p for p in by_kind(objects, "NetworkPolicy") if p["metadata"]["name"] == name)


def storage_targets(objects: list[dict[str, Any]]) -> list[str]:
    rules = policy(objects, "allow-storage")["spec"]["egress"]
    return [peer["ipBlock"]["cidr"] for rule in rules if rule["ports"] == HTTPS for peer in rule["to"]]


def test_storage_policy_selects_only_the_labelled_pods(tmp_path):
    objects = render(config(tmp_path, kubernetes={"storage_cidrs": ["10.8.0.0/24"]}))
    storage = policy(objects, "allow-storage")["spec"]
    assert storage["podSelector"] == {"matchLabels": {STORAGE_LABEL: "true"}}
    assert policy(objects, "allow-dns")["spec"]["podSelector"] == {}
    # The charts label both workloads: the Job's trainer and init containers stage and
    # upload, the server's stage-model init container reads the model.
    assert pod_labels(objects, "Job")[STORAGE_LABEL] == "true"
    assert pod_labels(objects, "Deployment")[STORAGE_LABEL] == "true"
    # Any other pod in the namespace: DNS and nothing else.
    other = egress_of(objects, {"app.kubernetes.io/name": "something-else"})
    assert [rule["ports"] for rule in other] == [DNS_PORTS]


@pytest.mark.parametrize("target,overrides,private", [
    ("kubernetes", {}, None),
    ("kubernetes", {"kubernetes": {"storage_cidrs": ["10.8.0.0/24"]}}, None),
    ("kubernetes", {"network": {"egress": True}}, None),
    ("aws", {}, ["10.42.0.0/16"]),
    ("aws", {"network": {"egress": True}}, None),
])
def test_server_pod_gets_dns_and_storage_egress_only(tmp_path, target, overrides, private):
    objects = render(config(tmp_path, target, **overrides), private)
    allowed = policy(objects, "allow-dns")["spec"]["egress"] + policy(objects, "allow-storage")["spec"]["egress"]
    granted = egress_of(objects, pod_labels(objects, "Deployment"))
    assert granted and all(rule in allowed for rule in granted)
    extras = {(e.cidr, e.port) for e in cloud_support(target).egress}
    for rule in policy(objects, "allow-storage")["spec"]["egress"]:
        assert all(set(peer) == {"ipBlock"} for peer in rule["to"])   # addresses, never pods
        cidrs = [peer["ipBlock"]["cidr"] for peer in rule["to"]]
        for port in rule["ports"]:
            assert port["port"] == 443 or all((c, port["port"]) in extras for c in cidrs)


@pytest.mark.parametrize("overrides,cidrs,why", [
    ({}, [], "no storage egress"),
    ({"kubernetes": {"storage_cidrs": ["10.8.0.0/24", "192.168.5.10/32"]}},
     ["10.8.0.0/24", "192.168.5.10/32"], "kubernetes.storage_cidrs"),
    ({"network": {"egress": True}}, ["0.0.0.0/0"], "network.egress is true"),
    # Known storage CIDRs stay the narrower choice even with egress opted in.
    ({"network": {"egress": True}, "kubernetes": {"storage_cidrs": ["10.8.0.0/24"]}},
     ["10.8.0.0/24"], "kubernetes.storage_cidrs"),
])
def test_existing_cluster_storage_egress_follows_kit_yaml(tmp_path, overrides, cidrs, why):
    objects = render(config(tmp_path, **overrides))
    storage = policy(objects, "allow-storage")
    assert storage_targets(objects) == cidrs
    assert len(storage["spec"]["egress"]) == (1 if cidrs else 0)
    assert why in storage["metadata"]["annotations"]["lima-kit.io/why"]
    server = egress_of(objects, pod_labels(objects, "Deployment"))
    assert [rule["ports"] for rule in server] == [DNS_PORTS] + ([HTTPS] if cidrs else [])


def test_render_without_storage_cidrs_prints_nothing_extra(tmp_path, images_lock):
    from click.testing import CliRunner

    from kit.commands.render import render as render_command

    text = (EXAMPLES / "kubernetes" / "kit.yaml").read_text()
    assert "storage_cidrs: [10.20.0.0/24]" in text
    (tmp_path / "kit.yaml").write_text(text.replace("storage_cidrs: [10.20.0.0/24]",
                                                    "storage_cidrs: []"))
    result = CliRunner().invoke(render_command, ["-f", str(tmp_path / "kit.yaml"), "--out",
                                                 str(tmp_path / "out"), "--images", str(images_lock)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 4 and all(re.fullmatch(r"\S+\.yaml  \d+ objects", line) for line in lines)
    assert storage_targets(load_dir(tmp_path / "out", "platform.yaml")) == []
