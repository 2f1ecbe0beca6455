"""The base of every target's mocks for the offline plan (`kit plan --offline`): what a cloud's
mocks (CloudSupport.plan_mocks, stacks/<cloud>/mocks.py) derive from, and the mocks of a target
with no data sources of its own. The seam's side of kit.infra.mocks: it imports only Pulumi's
mock runtime, so a cloud's mocks depend on nothing of the kit's."""

from __future__ import annotations

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks


class PlanMocks(Mocks):
    """Mocks an offline plan runs under; `placeholders` tells the report what they made up."""

    placeholders = "resource ids are placeholders"


class EchoMocks(PlanMocks):
    """For targets with no cloud data sources (an existing cluster): state = inputs."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        return args.resource_id or f"{args.name}-id", dict(args.inputs)

    def call(self, args: MockCallArgs) -> dict:
        return {}
