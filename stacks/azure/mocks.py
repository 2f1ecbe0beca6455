"""Pulumi mocks for Azure in the offline plan: ids in ARM's form (/subscriptions/.../
resourceGroups/.../providers/...), the outputs later resources read (client and principal
ids, URIs, the cluster's OIDC issuer), and answers to the stack's data-source calls (the
caller, the cluster's user credentials, an existing VNet). The subscription is kit.yaml's;
the tenant and the operator's object id are placeholders the plan says it made up."""

from __future__ import annotations

import base64
import uuid
from typing import TYPE_CHECKING, Any

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

from stacks.plan_mocks import PlanMocks

if TYPE_CHECKING:
    from kit.config import KitConfig

TENANT = "00000000-0000-0000-0000-0000000000aa"     # placeholder tenant
OPERATOR = "00000000-0000-0000-0000-0000000000bb"   # placeholder object id of whoever runs `kit up`
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"

# Pulumi type -> ARM path under the resource group (input names in braces), or a path under
# another resource's id ("{scope}", "{resourceUri}").
_PATHS = {
    "dnsresolver:DnsResolverPolicy": "Microsoft.Network/dnsResolverPolicies/{dnsResolverPolicyName}",
    "dnsresolver:DnsResolverDomainList":
        "Microsoft.Network/dnsResolverDomainLists/{dnsResolverDomainListName}",
    "keyvault:Vault": "Microsoft.KeyVault/vaults/{vaultName}",
    "keyvault:Key": "Microsoft.KeyVault/vaults/{vaultName}/keys/{keyName}",
    "managedidentity:UserAssignedIdentity": "Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}",
    "managedidentity:FederatedIdentityCredential": (
        "Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}/federatedIdentityCredentials/"
        "{federatedIdentityCredentialResourceName}"),
    "compute:DiskEncryptionSet": "Microsoft.Compute/diskEncryptionSets/{diskEncryptionSetName}",
    "operationalinsights:Workspace": "Microsoft.OperationalInsights/workspaces/{workspaceName}",
    "operationalinsights:Table": "Microsoft.OperationalInsights/workspaces/{workspaceName}/tables/{tableName}",
    "network:NetworkSecurityGroup": "Microsoft.Network/networkSecurityGroups/{networkSecurityGroupName}",
    "network:VirtualNetwork": "Microsoft.Network/virtualNetworks/{virtualNetworkName}",
    "network:PublicIPAddress": "Microsoft.Network/publicIPAddresses/{publicIpAddressName}",
    "network:NatGateway": "Microsoft.Network/natGateways/{natGatewayName}",
    "network:PrivateEndpoint": "Microsoft.Network/privateEndpoints/{privateEndpointName}",
    "network:PrivateDnsZoneGroup": ("Microsoft.Network/privateEndpoints/{privateEndpointName}/"
                                    "privateDnsZoneGroups/{privateDnsZoneGroupName}"),
    "privatedns:PrivateZone": "Microsoft.Network/privateDnsZones/{privateZoneName}",
    "privatedns:VirtualNetworkLink": ("Microsoft.Network/privateDnsZones/{privateZoneName}/"
                                      "virtualNetworkLinks/{virtualNetworkLinkName}"),
    "storage:StorageAccount": "Microsoft.Storage/storageAccounts/{accountName}",
    "storage:BlobServiceProperties": "Microsoft.Storage/storageAccounts/{accountName}/blobServices/default",
    "storage:BlobContainer": ("Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/"
                              "containers/{containerName}"),
    "containerregistry:Registry": "Microsoft.ContainerRegistry/registries/{registryName}",
    "containerregistry:CacheRule": "Microsoft.ContainerRegistry/registries/{registryName}/cacheRules/{cacheRuleName}",
    "containerservice:ManagedCluster": "Microsoft.ContainerService/managedClusters/{resourceName}",
    "containerservice:AgentPool": ("Microsoft.ContainerService/managedClusters/{resourceName}/"
                                   "agentPools/{agentPoolName}"),
}


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def kubeconfig_yaml(server: str) -> str:
    """A user kubeconfig as AKS returns it (format=exec: kubelogin), base64 of YAML."""
    text = (f"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n"
            "    certificate-authority-data: bW9jay1jYQ==\nusers:\n- name: u\n  user:\n    exec:\n"
            "      command: kubelogin\n")
    return base64.b64encode(text.encode()).decode()


class AzureMocks(PlanMocks):
    """Echo inputs as state, plus ARM ids and the computed outputs later resources read.
    `calls` overrides a data-source token's answer (an existing subnet's NAT gateway, say)."""

    def __init__(self, subscription: str = SUBSCRIPTION, location: str = "eastus2",
                 calls: dict[str, dict] | None = None, caller_subscription: str | None = None) -> None:
        self.subscription = subscription.lower()
        self.location = location
        self.calls = calls or {}
        self.caller_subscription = caller_subscription or self.subscription

    @classmethod
    def for_config(cls, cfg: "KitConfig") -> "AzureMocks":
        return cls(subscription=cfg.azure.subscription_id or SUBSCRIPTION, location=cfg.region or "eastus2")

    @property
    def placeholders(self) -> str:
        return "the tenant, the operator's object id and resource ids are placeholders"

    def _id(self, typ: str, name: str, state: dict[str, Any]) -> str:
        kind = typ.split(":", 1)[1]
        if kind == "resources:ResourceGroup":
            return f"/subscriptions/{self.subscription}/resourceGroups/{state['resourceGroupName']}"
        if kind == "authorization:RoleAssignment":
            guid = state.get("roleAssignmentName") or _uuid(name)
            return f"{state['scope']}/providers/Microsoft.Authorization/roleAssignments/{guid}"
        if kind == "authorization:RoleDefinition":
            return f"{state['scope']}/providers/Microsoft.Authorization/roleDefinitions/{state['roleDefinitionId']}"
        if kind == "monitor:DiagnosticSetting":
            return f"{state['resourceUri']}/providers/Microsoft.Insights/diagnosticSettings/{state.get('name', name)}"
        path = _PATHS.get(kind)
        group = state.get("resourceGroupName", "unknown")
        if path is None:
            return f"/subscriptions/{self.subscription}/resourceGroups/{group}/providers/{kind}/{name}"
        try:
            path = path.format(**{k: v for k, v in state.items() if isinstance(v, str)})
        except KeyError:
            path = f"{path.split('/{', 1)[0]}/{name}"
        return f"/subscriptions/{self.subscription}/resourceGroups/{group}/providers/{path}"

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        state = dict(args.inputs)
        typ, name = args.typ, args.name
        if typ.startswith("pulumi:providers:"):
            return f"{name}-provider-id", state
        if not typ.startswith("azure-native:"):
            return args.resource_id or f"{name}-id", state
        ident = args.resource_id or self._id(typ, name, state)
        state.setdefault("name", ident.rsplit("/", 1)[-1])
        kind = typ.split(":", 1)[1]
        identity = state.get("identity")
        if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
            # Inputs list the identities; Azure answers with a map of them.
            state["identity"] = {**identity, "userAssignedIdentities": {
                i: {"clientId": _uuid("client", i), "principalId": _uuid("principal", i)}
                for i in identity["userAssignedIdentities"]}}
        if kind == "managedidentity:UserAssignedIdentity":
            state.update(clientId=_uuid("client", name), principalId=_uuid("principal", name),
                         tenantId=TENANT)
        elif kind == "keyvault:Vault":
            props = dict(state.get("properties") or {})
            props["vaultUri"] = f"https://{state['vaultName']}.vault.azure.net/"
            state["properties"] = props
        elif kind == "keyvault:Key":
            uri = f"https://{state['vaultName']}.vault.azure.net/keys/{state['keyName']}"
            state.update(keyUri=uri, keyUriWithVersion=f"{uri}/{_uuid(uri).replace('-', '')}")
        elif kind == "containerregistry:Registry":
            state["loginServer"] = f"{state['registryName']}.azurecr.io"
        elif kind == "containerservice:ManagedCluster":
            issuer = f"https://{self.location}.oic.prod-aks.azure.com/{TENANT}/{_uuid('issuer', name)}/"
            state["oidcIssuerProfile"] = {**(state.get("oidcIssuerProfile") or {}), "issuerURL": issuer}
            state.update(privateFQDN=f"{state.get('dnsPrefix', name)}.privatelink.{self.location}.azmk8s.io",
                         fqdn=f"{state.get('dnsPrefix', name)}.hcp.{self.location}.azmk8s.io")
        return ident, state

    def call(self, args: MockCallArgs) -> dict:
        if args.token in self.calls:
            return dict(self.calls[args.token])
        a = args.args
        group, vnet = a.get("resourceGroupName", ""), a.get("virtualNetworkName", "")
        net = f"/subscriptions/{self.subscription}/resourceGroups/{group}/providers/Microsoft.Network"
        answers: dict[str, dict[str, Any]] = {
            "azure-native:authorization:getClientConfig": {
                "clientId": _uuid("operator-client"), "objectId": OPERATOR,
                "subscriptionId": self.caller_subscription, "tenantId": TENANT},
            "azure-native:containerservice:listManagedClusterUserCredentials": {
                "kubeconfigs": [{"name": "clusterUser", "value": kubeconfig_yaml(
                    f"https://{a.get('resourceName', 'cluster')}.privatelink.{self.location}.azmk8s.io:443")}]},
            "azure-native:network:getVirtualNetwork": {
                "id": f"{net}/virtualNetworks/{vnet}", "name": vnet,
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}},
            "azure-native:network:getSubnet": {
                "id": f"{net}/virtualNetworks/{vnet}/subnets/{a.get('subnetName', '')}",
                "name": a.get("subnetName", ""),
                "addressPrefix": f"10.0.{_SUBNET_OCTET.get(a.get('subnetName', ''), 9)}.0/24",
                "networkSecurityGroup": {"id": f"{net}/networkSecurityGroups/{a.get('subnetName', '')}"},
                "defaultOutboundAccess": False},
            "azure-native:network:getRouteTable": {"id": f"{net}/routeTables/{a.get('routeTableName', '')}",
                                                   "routes": []},
        }
        return answers.get(args.token, {})


# Third octets of the existing VNet's subnets in the mocks' answers (10.0.X.0/24).
_SUBNET_OCTET = {"nodes": 0, "endpoints": 2, "apiserver": 3}
