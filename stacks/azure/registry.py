"""Images from inside the network: the kit's private Premium registry (ACR). The kit's own
images are pushed to it; every upstream image the cluster runs is copied into it by the kit
at the digest the images lock pins (kit.images.copy: skopeo, every platform, the digest kept):
the NVIDIA device plugin by the stack before the DaemonSet is applied (stacks/cluster_layer/image_copy.py),
the charts' (TGI or vLLM, the API-key proxy) by `kit up`'s mirror phase before any chart is
(CloudSupport.copies_upstreams). No cache rule serves an image of the kit's: a boot path would
then depend on ACR fetching from Docker Hub or ghcr.io on the first pull (anonymous Docker Hub
pulls are rate limited; ACR's artifact cache docs recommend credentials for that,
https://learn.microsoft.com/en-us/azure/container-registry/tutorial-registry-cache, read
2026-12-07).

One cache rule remains, because AKS requires it: a network-isolated cluster with a registry of
its own ("bring your own ACR") bootstraps its components and node artifacts from the registry's
`mcr.microsoft.com/*` cache rule into `aks-managed-repository/*`
(https://learn.microsoft.com/en-us/azure/aks/network-isolated, read 2026-12-07). It mirrors
Microsoft's registry only, under a repository name no image of the kit's uses.

Public network access off unless network.operator_cidrs: then open to exactly those addresses
(a network rule set that denies the rest), so `kit up` can push the kit's images and copy the
upstream ones from the operator's machine. Admin user off, anonymous pull off, export off
(images cannot be copied out), dedicated data endpoints (reached privately too). Encrypted at
rest with Azure-managed keys, not the kit's: ACR can take a customer key only at creation and,
with the kit's vault closed to public networks, only through a system-assigned identity that
does not exist before the registry does; the images hold no customer data.

Image paths: <registry>.azurecr.io/<segment>/<repository> for an upstream image (segment as
in kit.images.UPSTREAM_SEGMENTS), <registry>.azurecr.io/<image> for the kit's own and the
copied device plugin, so ClusterOutputs.registry_prefix is the login server. ACR creates a
repository on its first push: the registry is the only resource to make.
"""

from __future__ import annotations

import pulumi_azure_native as azure

from stacks.azure import names
from stacks.azure.common import Ctx, grant
from stacks.azure.operator import ip_rules, public_access

# AKS's own images and node artifacts (network-isolated clusters, "bring your own ACR"): the
# one cache rule, required by AKS. (rule name, source repository, target repository)
AKS_RULE = ("aks-managed-mcr", "mcr.microsoft.com/*", "aks-managed-repository/*")


def registry(ctx: Ctx, operator_cidrs: list[str]) -> tuple[azure.containerregistry.Registry,
                                                           azure.authorization.RoleAssignment]:
    """The registry, and the operator's push grant on it (copies into it wait for that)."""
    rules = {"network_rule_set": {"default_action": "Deny", "ip_rules": ip_rules(operator_cidrs)}} \
        if operator_cidrs else {}
    acr = azure.containerregistry.Registry(
        "registry", registry_name=names.registry(ctx.name, ctx.subscription),
        resource_group_name=ctx.group.name, location=ctx.location, tags=ctx.tags,
        sku={"name": "Premium"}, admin_user_enabled=False, anonymous_pull_enabled=False,
        public_network_access=public_access(operator_cidrs), **rules, network_rule_bypass_options="None",
        # AKS bootstraps only from a zone-redundant registry, and only one that accepts Entra
        # tokens issued for ARM (authentication-as-arm on, its default).
        data_endpoint_enabled=True, zone_redundancy="Enabled",
        # No retention policy for untagged manifests: the platform manifests of a copied
        # multi-platform image carry no tag of their own, and Microsoft warns against the
        # policy where images are pulled by digest, as the kit's always are
        # (https://learn.microsoft.com/azure/container-registry/container-registry-retention-policy,
        # read 2026-12-07). The kit pushes unique immutable tags: nothing to clean up.
        policies={"export_policy": {"status": "disabled"},
                  "retention_policy": {"status": "disabled"}},
        opts=ctx.opts())
    rule, source, target = AKS_RULE
    azure.containerregistry.CacheRule(
        f"cache-{rule}", cache_rule_name=rule, registry_name=acr.name,
        resource_group_name=ctx.group.name, source_repository=source, target_repository=target,
        opts=ctx.opts(parent=acr))
    # Whoever runs `kit up` pushes the kit's own images and the upstream copies.
    push = grant(ctx, "operator-acr-push", ctx.operator, "AcrPush", acr.id, principal_type=None,
                 parent=acr)
    return acr, push
