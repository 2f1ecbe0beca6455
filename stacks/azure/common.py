"""What every Azure module shares: the deployment's identity (subscription, tenant, the
operator), the explicit provider, tags, the two resource groups, and role assignments.

Azure has no provider-wide default tags: every taggable resource is given ctx.tags itself
(a test checks each one in the plan).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azure_native as azure

from kit.errors import KitError
from stacks.azure import names
from stacks.azure.options import AzureOptions

# Built-in role definitions the kit assigns (Azure's ids, the same in every tenant). Never
# Owner, Contributor or User Access Administrator.
ROLES = {
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
    "Key Vault Crypto Service Encryption User": "e147488a-f6f5-4113-8e2d-b22465e65bf6",
    "Key Vault Crypto Officer": "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
    "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
    "Key Vault Contributor": "f25e0fa2-a7c8-4377-a976-54943a77a395",
    "Network Contributor": "4d97b98b-1d4f-4787-a291-c67834d212e7",
    "Azure Kubernetes Service RBAC Cluster Admin": "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b",
    "Managed Identity Operator": "f1a07417-d97a-45cb-824c-7a7467783830",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
}


@dataclass
class Ctx:
    """One deployment's identity and the options every resource shares."""

    name: str
    location: str
    subscription: str
    tenant: str
    operator: str                       # object id of whoever runs `kit up`
    azure: AzureOptions
    purge: bool
    provider: azure.Provider
    group: azure.resources.ResourceGroup
    kept: azure.resources.ResourceGroup
    adopt: dict[str, str] = field(default_factory=dict)
    log_retention_days: int = 2192
    tags: dict[str, str] = field(default_factory=dict)

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=self.provider, **kwargs)

    def kept_opts(self, logical: str, **kwargs: Any) -> pulumi.ResourceOptions:
        """A resource a plain `kit down` keeps: retained unless purging, imported when an
        earlier `kit down` kept it (stack config `adopt`)."""
        return self.opts(retain_on_delete=not self.purge, import_=self.adopt.get(logical), **kwargs)

    def invoke(self) -> pulumi.InvokeOptions:
        return pulumi.InvokeOptions(provider=self.provider)

    def role(self, role: str) -> str:
        return (f"/subscriptions/{self.subscription}/providers/Microsoft.Authorization/"
                f"roleDefinitions/{ROLES[role]}")


def make_ctx(name: str, location: str, options: AzureOptions, subscription: str, purge: bool,
             adopt: dict[str, str], log_retention_days: int) -> Ctx:
    """The explicit provider every Azure resource uses, pinned to kit.yaml's subscription and
    location; credentials for another subscription are refused before anything is created."""
    tags = {names.STACK_TAG: name, "lima-kit:managed-by": "pulumi"}
    provider = azure.Provider("azure", subscription_id=subscription, location=location)
    client = azure.authorization.get_client_config(opts=pulumi.InvokeOptions(provider=provider))
    if client.subscription_id.lower() != subscription.lower():
        raise KitError(f"azure.subscription_id: {subscription}, but the credentials in use are for "
                       f"subscription {client.subscription_id}",
                       hint="switch credentials (`az account set`), or correct azure.subscription_id")
    opts = pulumi.ResourceOptions(provider=provider)
    group = azure.resources.ResourceGroup(
        "group", resource_group_name=names.resource_group(name), location=location, tags=tags,
        opts=opts)
    kept = azure.resources.ResourceGroup(
        "kept-group", resource_group_name=names.kept_group(name), location=location, tags=tags,
        opts=pulumi.ResourceOptions(provider=provider, retain_on_delete=not purge,
                                    import_=adopt.get("kept-group")))
    return Ctx(name=name, location=location, subscription=subscription, tenant=client.tenant_id,
               operator=client.object_id, azure=options, purge=purge, provider=provider,
               group=group, kept=kept, adopt=dict(adopt), log_retention_days=log_retention_days,
               tags=tags)


def grant(ctx: Ctx, logical: str, principal_id: pulumi.Input[str], role: pulumi.Input[str],
          scope: pulumi.Input[str], *, condition: str | None = None,
          principal_type: str | None = "ServicePrincipal", kept: bool = False,
          **opts: Any) -> azure.authorization.RoleAssignment:
    """One role assignment at the narrowest scope that works (a container, a key, a subnet),
    with an ABAC condition where a built-in role is wider than the kit needs. `role`: a name
    in ROLES, or a custom role definition's id. `kept`: it
    outlives a plain `kit down` with what it grants on, under a name (a GUID) derived from the
    deployment, so the next `kit up` adopts it."""
    extra: dict[str, Any] = {"condition": condition, "condition_version": "2.0"} if condition else {}
    if kept:
        extra["role_assignment_name"] = names.kept_assignment(ctx.name, ctx.subscription, logical)
    return azure.authorization.RoleAssignment(
        logical, principal_id=principal_id, principal_type=principal_type,
        role_definition_id=ctx.role(role) if role in ROLES else role, scope=scope,
        description=f"lima-kit {ctx.name}: {logical}", **extra,
        opts=ctx.kept_opts(logical, **opts) if kept else ctx.opts(**opts))


def user_identity(ctx: Ctx, logical: str, *, kept: bool = False) -> azure.managedidentity.UserAssignedIdentity:
    """A user-assigned identity; `kept`: in the kept group, outliving a plain `kit down` with
    the storage account that uses it for its key (the account would lose its key otherwise)."""
    return azure.managedidentity.UserAssignedIdentity(
        f"{logical}-identity", resource_name_=names.identity(ctx.name, logical),
        resource_group_name=(ctx.kept if kept else ctx.group).name, location=ctx.location,
        tags=ctx.tags, opts=ctx.kept_opts(f"{logical}-identity") if kept else ctx.opts())
