"""Pulumi mocks for the offline plan: a monitor that records every registration exactly as
the engine would receive it (inputs, protect, retainOnDelete), and the mocks of the target's
cloud (CloudSupport.plan_mocks, on stacks.plan_mocks.PlanMocks) answering its data sources
with placeholders. Nothing here talks to a cloud.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor, Mocks

from stacks.plan_mocks import EchoMocks, PlanMocks

if TYPE_CHECKING:
    from kit.config import KitConfig


def mocks_for(cfg: "KitConfig") -> PlanMocks:
    """The mocks of cfg's target: its cloud's (answering that cloud's calls), else EchoMocks."""
    from stacks.clouds import cloud_support

    ref = cloud_support(cfg.target).plan_mocks
    if not ref:
        return EchoMocks()
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr).for_config(cfg)


class RecordingMonitor(MockMonitor):
    """MockMonitor that keeps each registration as the engine would see it."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.records: list[dict[str, Any]] = []
        self.outputs: dict[str, Any] = {}

    def _inputs(self, struct: Any) -> dict[str, Any]:
        return rpc.deserialize_properties(struct, keep_unknowns=True, keep_internal=False) or {}

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.records.append({
                "type": request.type, "name": request.name, "custom": bool(request.custom),
                "urn": response.urn, "parent": request.parent, "provider": request.provider,
                "inputs": self._inputs(request.object), "protect": bool(request.protect),
                "retain_on_delete": bool(request.retainOnDelete),
                "depends_on": list(request.dependencies),
                "ignore_changes": list(request.ignoreChanges), "read": False})
        return response

    def ReadResource(self, request):  # noqa: N802
        response = super().ReadResource(request)
        self.records.append({
            "type": request.type, "name": request.name, "custom": True, "urn": response.urn,
            "parent": request.parent, "provider": request.provider, "id": request.id,
            "inputs": self._inputs(request.properties), "protect": False,
            "retain_on_delete": False, "depends_on": [], "ignore_changes": [], "read": True})
        return response

    def RegisterResourceOutputs(self, request):  # noqa: N802
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.outputs = self._inputs(request.outputs)
        return super().RegisterResourceOutputs(request)
