"""Offline plans of the stack (Pulumi mocks, in-process) and helpers to read them."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("pulumi_aws", reason="the stack tests need the [aws] extra")

from kit.config import KitConfig, parse  # noqa: E402

BASE: dict[str, Any] = {
    "name": "acme-notes", "target": "aws", "region": "us-east-1",
    "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
    "data": {"uri": "s3://acme-clinical-notes/sft/"},
    "gpu": {"type": "h100", "count": 8, "max_nodes": 2},
}
_CACHE: dict[str, Any] = {}


def make_cfg(**sections: Any) -> KitConfig:
    return merged(BASE, **sections)


def merged(base: dict[str, Any], **sections: Any) -> KitConfig:
    """`base` with each section updated (a dict merges into the section, a value replaces it)."""
    raw = json.loads(json.dumps(base))
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return parse(raw)


def plan_of(cfg: KitConfig | None = None, **kwargs: Any):
    """One offline plan per distinct config (plans are deterministic; cache them)."""
    from kit.infra.plan import offline_plan

    cfg = cfg or make_cfg()
    key = cfg.model_dump_json() + repr(sorted(kwargs.items(), key=lambda kv: kv[0]))
    if key not in _CACHE:
        _CACHE[key] = offline_plan(cfg, **kwargs)
    return _CACHE[key]


EXISTING_VPC = {"vpc_id": "vpc-0123456789abcdef0",
                "subnet_ids": ["subnet-0aaa1111", "subnet-0bbb2222", "subnet-0ccc3333"]}


def existing_vpc() -> KitConfig:
    return make_cfg(aws=EXISTING_VPC)


def inputs(plan, typ: str, name: str | None = None) -> dict[str, Any]:
    return plan.one(typ, name)["inputs"]


def policy_doc(text: str) -> list[dict[str, Any]]:
    return json.loads(text)["Statement"]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="session")
def default_plan():
    return plan_of()
