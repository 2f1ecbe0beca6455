"""Images from inside the network: the kit's private Premium registry (ACR), with the kit's own
images pushed to it and cache rules as the pull-through mirror of the upstream images the
charts run, and of mcr.microsoft.com for AKS itself (the network-isolated cluster's bootstrap
artifact source). Nodes pull through its private endpoint; ACR fetches from upstream on
Azure's side, so the nodes need no egress.

Public network access off unless network.operator_cidrs: then open to exactly those addresses
(a network rule set that denies the rest), so `kit up` can push the kit's images and copy the
device plugin from the operator's machine. Admin user off, anonymous pull off, export off (images cannot be
copied out), dedicated data endpoints (reached privately too). Encrypted at rest with
Azure-managed keys, not the kit's: ACR can take a customer key only at creation and, with the
kit's vault closed to public networks, only through a system-assigned identity that does not
exist before the registry does; the images hold no customer data.

Image paths: <registry>.azurecr.io/<segment>/<repository> for an upstream image (segment as
in kit.images.UPSTREAM_SEGMENTS), <registry>.azurecr.io/<image> for the kit's own, so
ClusterOutputs.registry_prefix is the login server. One cache rule per upstream repository
the kit uses: a reviewer sees exactly what the mirror may fetch.
"""

from __future__ import annotations

import re

import pulumi_azure_native as azure

from stacks.azure import names
from stacks.azure.common import Ctx, grant
from stacks.azure.operator import ip_rules, public_access

# The upstream images the charts run on a cluster (kit.images names); the device plugin
# (nvcr.io) is copied into the registry by `kit up` instead, the kit's own are pushed.
MIRRORED = ("tgi", "vllm", "proxy")
# AKS's own images and node artifacts (network-isolated clusters, "bring your own ACR").
AKS_RULE = ("aks-managed-mcr", "mcr.microsoft.com/*", "aks-managed-repository/*")


def cache_rules() -> list[tuple[str, str, str]]:
    """(rule name, source repository, target repository) for every mirrored image."""
    from kit.images import IMAGES, UPSTREAM_SEGMENTS

    rules = [AKS_RULE]
    for image in MIRRORED:
        host, _, path = IMAGES[image].repository.partition("/")
        segment = UPSTREAM_SEGMENTS[host]
        source_host = "docker.io" if segment == "docker-hub" else host
        rule = re.sub(r"[^a-zA-Z0-9-]", "-", f"{segment}-{path}")[:50]
        rules.append((rule, f"{source_host}/{path}", f"{segment}/{path}"))
    return rules


def registry(ctx: Ctx, operator_cidrs: list[str]) -> azure.containerregistry.Registry:
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
        policies={"export_policy": {"status": "disabled"},
                  "retention_policy": {"status": "enabled", "days": 30}},
        opts=ctx.opts())
    for rule, source, target in cache_rules():
        azure.containerregistry.CacheRule(
            f"cache-{rule}", cache_rule_name=rule, registry_name=acr.name,
            resource_group_name=ctx.group.name, source_repository=source, target_repository=target,
            opts=ctx.opts(parent=acr))
    # Whoever runs `kit up` pushes the kit's own images (and the device plugin's copy).
    grant(ctx, "operator-acr-push", ctx.operator, "AcrPush", acr.id, principal_type=None, parent=acr)
    return acr
