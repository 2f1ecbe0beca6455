"""kit.yaml's `azure:` section: the one declaration of every Azure option. The stack reads it
from the validated kit.yaml it receives; nothing else restates it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_RG = r"^[-\w._()]{1,89}[-\w_()]$"
_SUBNET_ID = (r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/"
              r"Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+$")


class AzureOptions(BaseModel):
    """Azure-only options. Defaults: a new private VNet the kit creates and owns."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    # Required for target azure (CloudSupport.required): every name the kit gives a globally
    # unique resource (storage account, key vault, registry) derives from it.
    subscription_id: str | None = Field(default=None, pattern=_UUID)
    # The resource group of the customer's data account (data.uri names the account): the
    # stack reads that account (`get`) and grants read on its container; it never changes it.
    data_resource_group: str | None = Field(default=None, pattern=_RG)
    # Bring your own VNet: a subnet for the nodes and one for private endpoints, both in the
    # same VNet, given as ARM ids. Default: a new VNet of vnet_cidr.
    node_subnet_id: str | None = Field(default=None, pattern=_SUBNET_ID)
    endpoint_subnet_id: str | None = Field(default=None, pattern=_SUBNET_ID)
    # The API server's own subnet (delegated to Microsoft.ContainerService/managedClusters, a
    # /28 or larger): API server VNet integration, which the private key vault of Kubernetes
    # secrets' encryption (KMS) needs.
    apiserver_subnet_id: str | None = Field(default=None, pattern=_SUBNET_ID)
    # How nodes reach anything outside the VNet while network.egress is false: `none` (a
    # network-isolated cluster; the kit's NAT gateway carries Microsoft Entra ID's token traffic
    # only, the NSG denies the rest), or `userDefinedRouting` through the route table of an
    # existing VNet (your hub's firewall, which must admit login.microsoftonline.com).
    # network.egress: true opens the NAT gateway to everything.
    outbound_type: Literal["none", "userDefinedRouting"] = "none"
    vnet_cidr: str = "10.42.0.0/16"
    # With azblob:// state: the operator's key vault whose key `lima-kit-state` encrypts the
    # stack's secrets (Pulumi's azurekeyvault:// secrets provider).
    state_key_vault: str | None = Field(default=None, pattern=r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
    kubernetes_version: str = Field(default="1.33", pattern=r"^1\.\d{2}$")
    # The network policy engine that enforces the kit's NetworkPolicies (never none).
    network_policy: Literal["cilium", "calico", "azure"] = "cilium"
    # The kit's storage copied across the region's availability zones (false for a region
    # without zones; the registry is zone-redundant always, as AKS bootstraps only from such).
    zone_redundant: bool = True
    # The private endpoint to the data account: `auto` when the operator may approve
    # connections to it (else creating it fails), `manual` to leave a request its owner approves.
    data_endpoint_approval: Literal["auto", "manual"] = "auto"
    system_vm_size: str = Field(default="Standard_D4ds_v5", pattern=r"^Standard_[A-Za-z0-9_]+$")
    # Entra ID groups whose members administer the cluster (besides whoever runs `kit up`).
    admin_group_object_ids: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _existing_vnet(self) -> "AzureOptions":
        subnets = {"node_subnet_id": self.node_subnet_id, "endpoint_subnet_id": self.endpoint_subnet_id,
                   "apiserver_subnet_id": self.apiserver_subnet_id}
        given = {k: v for k, v in subnets.items() if v}
        if given and len(given) != len(subnets):
            missing = next(k for k in subnets if k not in given)
            raise ValueError(f"azure.{missing}: an existing VNet needs node_subnet_id, "
                             "endpoint_subnet_id and apiserver_subnet_id")
        if given:
            vnets = {v.rsplit("/subnets/", 1)[0].lower() for v in given.values()}
            if len(vnets) != 1:
                raise ValueError("azure.endpoint_subnet_id: the three subnets must be in one VNet")
            if len({v.lower() for v in given.values()}) != len(given):
                raise ValueError("azure.endpoint_subnet_id: the three subnets must differ")
        if self.outbound_type == "userDefinedRouting" and not given:
            raise ValueError("azure.outbound_type: userDefinedRouting routes through an existing "
                             "VNet's route table; set azure.node_subnet_id and the other subnets")
        import re

        bad = [g for g in self.admin_group_object_ids if not re.match(_UUID, g)]
        if bad:
            raise ValueError(f"azure.admin_group_object_ids: {bad[0]!r} is not an object id (a UUID)")
        return self

    @property
    def existing_vnet(self) -> str | None:
        """The ARM id of the bring-your-own VNet, or None."""
        return self.node_subnet_id.rsplit("/subnets/", 1)[0] if self.node_subnet_id else None
