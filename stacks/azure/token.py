"""The cluster's bearer token for `kit cluster-token azure`, the kubeconfig's exec plugin:
an Entra ID token for AKS's server application from azure-identity's default chain
(environment, workload identity, managed identity, the Azure CLI's login). No kubelogin
binary, and the cluster has no local accounts to fall back on."""

from __future__ import annotations

from datetime import datetime, timezone

from kit.errors import KitError, require

# AKS's Entra ID server application: the audience of every AKS cluster's Entra tokens.
SCOPE = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"


def token() -> tuple[str, datetime]:
    """(bearer token, its expiry in UTC)."""
    identity = require("azure.identity", "azure")
    from azure.core.exceptions import ClientAuthenticationError

    from stacks.azure.arm import quiet_identity

    credential = identity.DefaultAzureCredential(exclude_interactive_browser_credential=True)
    try:
        with quiet_identity():
            got = credential.get_token(SCOPE)
    except ClientAuthenticationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KitError(f"azure: no Entra ID token for the cluster: {first[:200]}",
                       hint="sign in: az login (or set AZURE_CLIENT_ID / AZURE_TENANT_ID and a "
                            "secret, certificate or federated token)") from None
    return got.token, datetime.fromtimestamp(got.expires_on, tz=timezone.utc)
