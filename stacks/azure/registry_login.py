"""Credentials for pushing the kit's images to the stack's registry (`kit up`'s mirror phase,
`kit images push`): an Entra ID token for ACR exchanged for an ACR refresh token, used as the
password of the fixed "null GUID" user, as `az acr login --expose-token` does. The registry
has no admin user and refuses anonymous access; the push reaches it from an address of
network.operator_cidrs (its public endpoint admits exactly those) or through its private
endpoint, from inside the VNet. The same login copies the stack's own upstream images
(stacks/cluster_layer/image_copy.py) and the charts' (`kit up`'s mirror phase) into it."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING

from kit.errors import KitError, require

if TYPE_CHECKING:
    from kit.config import KitConfig

USER = "00000000-0000-0000-0000-000000000000"
SCOPE = "https://containerregistry.azure.net/.default"


def credentials(cfg: "KitConfig", registry: str) -> tuple[str, str]:
    return login(registry)


def login(registry: str) -> tuple[str, str]:
    """(username, password) for the ACR registry `registry` names (its login server first)."""
    from stacks.azure.arm import ArmError, bearer

    identity = require("azure.identity", "azure")
    host = registry.split("/", 1)[0]
    credential = identity.DefaultAzureCredential(exclude_interactive_browser_credential=True)
    try:
        token = bearer(credential, SCOPE)
    except ArmError as exc:
        raise KitError(f"{host}: no Entra ID token to push with: {exc.message}",
                       hint="az login (or AZURE_CLIENT_ID / AZURE_TENANT_ID and a secret)") from None
    form = urllib.parse.urlencode({"grant_type": "access_token", "service": host,
                                   "access_token": token}).encode()
    req = urllib.request.Request(f"https://{host}/oauth2/exchange", data=form, method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:  # noqa: S310 (https only)
            answer = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise KitError(f"{host}: cannot get a push token: {' '.join(str(exc).split())[:160]}",
                       hint="run from an address of network.operator_cidrs or inside the "
                            "deployment's VNet, with AcrPush on the registry") from None
    refresh = answer.get("refresh_token")
    if not refresh:
        raise KitError(f"{host}: the token exchange answered no refresh token",
                       hint="check the credentials (`kit doctor`) and AcrPush on the registry")
    return USER, refresh
