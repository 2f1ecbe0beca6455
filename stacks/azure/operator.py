"""How the operator's machine reaches an Azure stack during `kit up` (no SDK imported).

The API server, the registry and the kit's storage account each admit network.operator_cidrs
and nothing else from the internet (their private endpoints serve the cluster); with no
operator_cidrs all three are private, and the run that creates the VNet cannot reach them.
The key vault stays private whatever the config: AKS's KMS plugin does not support a vault
whose firewall admits public addresses
(https://learn.microsoft.com/en-us/azure/aks/use-kms-etcd-encryption, Limitations, read
2026-12-07), and the kit manages its key through ARM (the management plane), never the
vault's data plane, so the operator needs no network path to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stacks.clouds import OPERATOR_CIDRS_FIX, Reach, cidrs_source

if TYPE_CHECKING:
    from kit.config import KitConfig


def reach(cfg: "KitConfig") -> list[Reach]:
    cidrs = bool(cfg.network.operator_cidrs)
    where = cidrs_source(cfg)
    return [
        Reach("API server", f"AKS API server, {where}", cidrs, fix=OPERATOR_CIDRS_FIX),
        Reach("registry", f"ACR, {where}", cidrs, fix=OPERATOR_CIDRS_FIX),
        Reach("the kit's storage", f"storage account, {where}", cidrs, fix=OPERATOR_CIDRS_FIX),
        Reach("key vault", "nowhere outside the VNet (private endpoint; AKS KMS needs a private "
                           "vault); keys are managed through ARM", False, needed=False),
    ]


def ip_rules(cidrs: list[str], *, bare_hosts: bool = False) -> list[dict]:
    """network.operator_cidrs as the allow rules of a registry's or storage account's network
    rule set. `bare_hosts`: a /32 as a plain address, which storage accounts require ("/31 or
    /32 prefix sizes aren't supported", https://learn.microsoft.com/en-us/azure/storage/common/
    storage-network-security, IP network rules, read 2026-12-07)."""
    def value(cidr: str) -> str:
        return cidr.split("/")[0] if bare_hosts and cidr.endswith("/32") else cidr
    return [{"action": "Allow", "i_p_address_or_range": value(c)} for c in cidrs]


def public_access(cidrs: list[str]) -> str:
    """A resource's public network access: closed without operator_cidrs; otherwise on, and its
    network rule set (default Deny) admits exactly those addresses. The private endpoint
    serves the cluster either way."""
    return "Enabled" if cidrs else "Disabled"
