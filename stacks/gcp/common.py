"""What every GCP module shares: the deployment's context and the labelled provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from stacks.gcp.names import STACK_LABEL, short_name
from stacks.gcp.options import GcpOptions


@dataclass
class Ctx:
    """One deployment's identity and the options every resource shares."""

    name: str
    region: str
    project: str
    project_number: str
    gcp: GcpOptions
    purge: bool
    provider: gcp.Provider
    # Logical name (stacks.gcp.names.ADOPTABLE) -> id of a kept resource to import, not create.
    adopt: dict[str, str] = field(default_factory=dict)
    log_retention_days: int = 2192
    labels: dict[str, str] = field(default_factory=dict)

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=self.provider, **kwargs)

    def invoke(self) -> pulumi.InvokeOptions:
        return pulumi.InvokeOptions(provider=self.provider)

    @property
    def short(self) -> str:
        return short_name(self.name)

    def agent(self, service: str) -> str:
        """A Google service agent of the project (acts for a service: encrypts with the key)."""
        return f"serviceAccount:service-{self.project_number}@{service}.iam.gserviceaccount.com"


def make_ctx(name: str, region: str, options: GcpOptions, purge: bool,
             adopt: dict[str, str], log_retention_days: int) -> Ctx:
    """The explicit provider every GCP resource uses: project and region pinned, the stack's
    label on everything that takes labels (provider default_labels)."""
    project = options.project or ""
    labels = {STACK_LABEL: name, "lima-kit-managed-by": "pulumi"}
    provider = gcp.Provider("gcp", project=project, region=region, default_labels=labels,
                            add_pulumi_attribution_label=False)
    number = gcp.organizations.get_project(project_id=project,
                                           opts=pulumi.InvokeOptions(provider=provider)).number
    return Ctx(name=name, region=region, project=project, project_number=str(number),
               gcp=options, purge=purge, provider=provider, adopt=dict(adopt), labels=labels,
               log_retention_days=log_retention_days)


def member(email: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat("serviceAccount:", email)
