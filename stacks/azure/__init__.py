"""Azure: a private VNet, a network-isolated AKS cluster, a GPU pool, storage, identity and an
image mirror.

This module is what the rest of the kit knows of Azure: one CloudSupport object, plain data
plus functions imported on first use, so importing it never imports azure-identity or
pulumi_azure_native. The Pulumi program part is stacks/azure/stack.py (`build`).

Not named azure/: `pulumi up` puts stacks/ first on sys.path, where a folder of that name would
shadow the Azure SDKs' `azure` namespace package (azure.identity, azure.core).
"""

from __future__ import annotations

from stacks.azure.catalog import CATALOG
from stacks.clouds import CloudSupport, Egress, lazy

# Storage tokens come from the instance metadata endpoint on each node (the node pools'
# managed identity, stacks/azure/identity.py): storage pods reach it and the private
# endpoints, nothing public (Microsoft Entra ID's sign-in endpoints serve every tenant).
IMDS = Egress("169.254.169.254/32", 80, "Azure instance metadata service (the nodes' managed identity)")

SUPPORT = CloudSupport(
    target="azure",
    extra="azure",
    modules=("kubernetes", "pulumi", "pulumi_kubernetes", "pulumi_azure_native", "azure.identity",
             "helm_python"),
    build="stacks.azure.stack:build",
    options="stacks.azure.options:AzureOptions",
    default_outputs=lazy("stacks.azure.defaults:default_outputs"),
    required=(("azure.subscription_id", "the subscription the stack deploys into; it names the kit's "
                                        "storage account, key vault and registry (`az account show "
                                        "--query id`)"),),
    default_region="eastus2",
    bucket_scheme="az",
    internal_lb={"service.beta.kubernetes.io/azure-load-balancer-internal": "true"},
    # Azure's internal load balancers get a private address, not a DNS name.
    internal_lb_domain="",
    identity_annotation="azure.workload.identity/client-id",
    egress=(IMDS,),
    # AKS installs the GPU driver on the GPU pool (gpu_profile), not the device plugin: the
    # stack copies the plugin into the registry (stacks/cluster_layer/image_copy.py) and applies it.
    stack_images=("device-plugin",),
    # No cache rule for an image of the kit's: every upstream is copied in at its locked digest
    # (stacks/azure/registry.py); only AKS's own mcr.microsoft.com bootstrap rule remains.
    copies_upstreams=True,
    gpu_catalog=CATALOG,
    state_scheme="azblob",
    # A key of the operator's own vault (vault names are global: azure.state_key_vault names it).
    secrets_provider="azurekeyvault://{state_key_vault}.vault.azure.net/keys/lima-kit-state",
    state_check=lazy("stacks.azure.preflight:state_container"),
    preflight=lazy("stacks.azure.preflight:checks"),
    operator_reach=lazy("stacks.azure.operator:reach"),
    # What ARM, Key Vault and Storage answer while a role assignment propagates (up to 10 min).
    propagation_errors=(r"AuthorizationFailed", r"LinkedAuthorizationFailed", r"ForbiddenByRbac",
                        r"AuthorizationPermissionMismatch",
                        r"does not have (the )?authorization to perform action",
                        r"User does not have access to the resource in Azure",
                        # a copy into the registry seconds after the operator's AcrPush grant
                        r"into \S+\.azurecr\.io\S* failed: .*(unauthorized|denied)"),
    adopt=lazy("stacks.azure.kept:adoptions"),
    purge_kept=lazy("stacks.azure.kept:purge"),
    leak_report=lazy("stacks.azure.leaks:report"),
    cluster_token=lazy("stacks.azure.token:token"),
    registry_login=lazy("stacks.azure.registry_login:credentials"),
    prices="stacks.azure:prices.json",
    price_update=lazy("stacks.azure.prices:fetch"),
    plan_mocks="stacks.azure.mocks:AzureMocks",
    init_section=(
        "azure:\n"
        '  subscription_id: "{AZURE_SUBSCRIPTION_ID}"  # required: the subscription the stack deploys into\n'
        "  # data_resource_group: my-data-rg  # the resource group of data.uri's storage account\n"
        "  # state_key_vault: my-state-vault  # with azblob:// state: its key lima-kit-state encrypts secrets\n"
        "  # an existing VNet instead of a new private one: three of its subnets, as ARM ids\n"
        "  # node_subnet_id: /subscriptions/.../virtualNetworks/VNET/subnets/nodes\n"
        "  # endpoint_subnet_id: /subscriptions/.../virtualNetworks/VNET/subnets/endpoints\n"
        "  # apiserver_subnet_id: /subscriptions/.../virtualNetworks/VNET/subnets/apiserver  # delegated to AKS\n"
        "  # outbound_type: userDefinedRouting  # when its route table sends 0.0.0.0/0 to your firewall\n"),
    plan_concerns=(
        ("azure-native:containerservice:AgentPool", "nodes"),
        ("azure-native:compute:", "nodes"),
        ("azure-native:containerservice:", "cluster"),
        ("azure-native:operationalinsights:", "cluster"),
        ("azure-native:monitor:", "cluster"),
        ("azure-native:network:", "network"),
        ("azure-native:privatedns:", "network"),
        ("azure-native:dnsresolver:", "network"),
        ("azure-native:storage:", "storage"),
        ("azure-native:keyvault:", "identity"),
        ("azure-native:managedidentity:", "identity"),
        ("azure-native:authorization:", "identity"),
        ("azure-native:containerregistry:", "registry"),
        ("pulumi-python:dynamic/kit:ImageCopy", "registry"),
        ("azure-native:resources:", "network"),
    ),
)
