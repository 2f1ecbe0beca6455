"""Offline plans of the GCP stack (Pulumi mocks, in-process) and helpers to read them."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("pulumi_gcp", reason="the GCP stack tests need the [gcp] extra")

from kit.config import KitConfig  # noqa: E402
from tests.stacks.conftest import merged  # noqa: E402
from tests.stacks.conftest import plan_of as cached_plan  # noqa: E402

BASE: dict[str, Any] = {
    "name": "acme-notes", "target": "gcp", "region": "us-central1",
    "gcp": {"project": "acme-ml-prod", "access_policy": "987654321"},
    "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
    "data": {"uri": "gs://acme-clinical-notes/sft/"},
    "gpu": {"type": "h100", "count": 8, "max_nodes": 2},
}
EXISTING = {"network": "shared-vpc", "subnetwork": "ml-nodes"}


def make_cfg(**sections: Any) -> KitConfig:
    return merged(BASE, **sections)


def plan_of(cfg: KitConfig | None = None, mocks: Any = None, **kwargs: Any):
    """The cached offline plan (tests.stacks.conftest), or one under the given mocks."""
    from kit.infra.plan import run_plan

    cfg = cfg or make_cfg()
    return run_plan(cfg, mocks, **kwargs) if mocks is not None else cached_plan(cfg, **kwargs)


def inputs(plan, typ: str, name: str | None = None) -> dict[str, Any]:
    return plan.one(typ, name)["inputs"]


def created(plan, typ: str) -> list[dict[str, Any]]:
    return [r for r in plan.of_type(typ) if not r["read"]]


@pytest.fixture(scope="session")
def default_plan():
    return plan_of()


@pytest.fixture(scope="session")
def egress_plan():
    return plan_of(make_cfg(network={"egress": True, "operator_cidrs": ["203.0.113.0/24"]}))


@pytest.fixture(scope="session")
def existing_plan():
    return plan_of(make_cfg(gcp=EXISTING))
