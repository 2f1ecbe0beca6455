"""Offline plans of the Azure stack (Pulumi mocks, in-process) and helpers to read them."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("pulumi_azure_native", reason="the Azure stack tests need the [azure] extra")

from kit.config import KitConfig  # noqa: E402
from tests.stacks.conftest import merged  # noqa: E402
from tests.stacks.conftest import plan_of as cached_plan  # noqa: E402

SUB = "11111111-2222-3333-4444-555555555555"
VNET = f"/subscriptions/{SUB}/resourceGroups/hub-net/providers/Microsoft.Network/virtualNetworks/hub"
EXISTING_VNET = {"node_subnet_id": f"{VNET}/subnets/nodes", "endpoint_subnet_id": f"{VNET}/subnets/endpoints",
                 "apiserver_subnet_id": f"{VNET}/subnets/apiserver"}
DATA_ACCOUNT = "acmeclinical"
BASE: dict[str, Any] = {
    "name": "acme-notes", "target": "azure", "region": "eastus2",
    "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
    "data": {"uri": f"https://{DATA_ACCOUNT}.blob.core.windows.net/notes/sft/"},
    "gpu": {"type": "h100", "count": 8, "max_nodes": 2},
    "azure": {"subscription_id": SUB, "data_resource_group": "acme-data"},
}


def make_cfg(**sections: Any) -> KitConfig:
    return merged(BASE, **sections)


def plan_of(cfg: KitConfig | None = None, **kwargs: Any):
    """One offline plan per distinct config (tests.stacks.conftest caches them)."""
    return cached_plan(cfg or make_cfg(), **kwargs)


def inputs(plan, typ: str, name: str | None = None) -> dict[str, Any]:
    return plan.one(typ, name)["inputs"]


def az(kind: str) -> str:
    """The Pulumi type token of an azure-native resource ("network:VirtualNetwork")."""
    return f"azure-native:{kind}"


@pytest.fixture(scope="session")
def default_plan():
    return plan_of()


@pytest.fixture(scope="session")
def egress_plan():
    return plan_of(make_cfg(network={"egress": True, "operator_cidrs": ["203.0.113.0/24"]}))


@pytest.fixture(scope="session")
def existing_plan():
    return plan_of(make_cfg(azure=EXISTING_VNET))
