"""After `kit down`: what is still tagged with the stack on Azure (or left in its resource
groups), and how to remove each, from Azure Resource Graph.

The kept resource group and what is in it are listed as kept (by design) unless purging;
anything else (a load balancer or public IP a Kubernetes controller made in the node resource
group, a disk, a private endpoint) is listed with the command that removes it. Resource Graph
lags deletions by a few minutes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stacks.azure import names
from stacks.azure.arm import Arm, ArmError, connect

if TYPE_CHECKING:
    from kit.config import KitConfig


def report(cfg: "KitConfig", saved: dict[str, Any], purge: bool) -> list[str]:
    """Leak report lines for a torn-down deployment (saved: its last stack outputs)."""
    from stacks.azure.defaults import subscription

    try:
        return leak_report(connect(subscription(cfg)), cfg.name, keep=not purge)
    except ArmError as exc:
        return [f"[yellow]could not list what is left[/] ({' '.join(str(exc).split())[:160]}); "
                f"list it with: az graph query -q \"{query(cfg.name)}\""]


def query(name: str) -> str:
    """Resources and resource groups tagged with the stack, or in one of its groups."""
    groups = ", ".join(f"'{g}'" for g in (names.resource_group(name), names.kept_group(name),
                                          names.node_group(name)))
    tag = f"tags['{names.STACK_TAG}'] == '{name}'"
    return (f"resources | where {tag} or resourceGroup in~ ({groups}) | project id, type, resourceGroup "
            f"| union (resourcecontainers | where type =~ 'microsoft.resources/subscriptions/resourcegroups' "
            f"and ({tag} or name in~ ({groups})) | project id, type, resourceGroup=name)")


def leak_report(arm: Arm, name: str, *, keep: bool = True) -> list[str]:
    """Lines for the user: what is kept (by design) and anything else left, with its fix."""
    rows = arm.graph(query(name))
    kept_group = names.kept_group(name).lower()
    lines: list[str] = []
    others = []
    for row in sorted(rows, key=lambda r: (len(str(r.get("id"))), str(r.get("id")))):
        ident = str(row.get("id"))
        if keep and str(row.get("resourceGroup", "")).lower() == kept_group:
            lines.append(f"kept (runs, mirrored weights, their key and the audit trail; "
                         f"`kit down --purge` deletes it): {ident}")
        else:
            others.append(row)
    for row in others:
        lines.append(f"[yellow]still exists[/]: {row['id']}\n      remove: {remove_hint(row)}")
    if others:
        lines.append("Resource Graph lags deletions by a few minutes; list again with: az graph query "
                     f"-q \"{query(name)}\"")
    elif not lines:
        lines.append(f"nothing tagged {names.STACK_TAG}={name} is left")
    return lines


def remove_hint(row: dict[str, Any]) -> str:
    kind = str(row.get("type", "")).lower()
    if kind == "microsoft.resources/subscriptions/resourcegroups":
        return f"az group delete -n {str(row['id']).rsplit('/', 1)[-1]}   (deletes everything in it)"
    if kind == "microsoft.keyvault/vaults":
        return f"az keyvault delete --ids {row['id']}   (soft-deleted; purge protection keeps it 90 days)"
    return f"az resource delete --ids {row['id']}"
