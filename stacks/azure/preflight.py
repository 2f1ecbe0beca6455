"""Azure preflight (`kit doctor`): credentials for kit.yaml's subscription (azure-identity),
the resource providers and the encryption-at-host feature the stack needs, the GPU family's
vCPU quota for a full pool, and azblob:// Pulumi state with its azurekeyvault:// secrets
provider. Each check answers in seconds, creates nothing, and says how to fix what is missing.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable

from kit.errors import KitError
from stacks.azure.catalog import QUOTA_FAMILY, SPOT_FAMILY
from stacks.clouds import Check

if TYPE_CHECKING:
    from kit.config import KitConfig
    from stacks.azure.arm import Arm

PROVIDERS = ("Microsoft.ContainerService", "Microsoft.Network", "Microsoft.Storage",
             "Microsoft.KeyVault", "Microsoft.ContainerRegistry", "Microsoft.ManagedIdentity",
             "Microsoft.OperationalInsights", "Microsoft.Insights", "Microsoft.Compute")


def checks(cfg: "KitConfig") -> list[Callable[["KitConfig"], Check]]:
    # Imported here, on the calling thread: the checks then run on parallel threads, and two
    # threads importing one package for the first time can deadlock on the import lock.
    import azure.core.exceptions  # noqa: F401
    import azure.identity  # noqa: F401

    return [identity, providers, gpu_quota]


def _arm(cfg: "KitConfig") -> "Arm":
    from stacks.azure.arm import connect
    from stacks.azure.defaults import subscription

    return connect(subscription(cfg))


def _fail(name: str, exc: Exception, fix: str) -> Check:
    if isinstance(exc, KitError):
        return Check(name, False, exc.message, exc.hint)
    return Check(name, False, " ".join(str(exc).split())[:160], fix)


def identity(cfg: "KitConfig") -> Check:
    from stacks.azure.arm import ArmError

    try:
        arm = _arm(cfg)
        sub = arm.get(f"/subscriptions/{arm.subscription}", "2022-12-01")
    except (ArmError, KitError) as exc:
        return _fail("azure credentials", exc, "az login, or set AZURE_CLIENT_ID/AZURE_TENANT_ID and a secret")
    if sub is None:
        return Check("azure credentials", False,
                     f"subscription {cfg.azure.subscription_id} is not visible to these credentials",
                     "az account set -s SUBSCRIPTION, or correct azure.subscription_id")
    return subscription_check(sub)


def subscription_check(sub: dict[str, Any]) -> Check:
    state = sub.get("state", "Enabled")
    what = f"subscription {sub.get('subscriptionId')} ({sub.get('displayName', '?')}), {state}"
    if state != "Enabled":
        return Check("azure credentials", False, what, "use an enabled subscription")
    return Check("azure credentials", True, what)


def providers(cfg: "KitConfig") -> Check:
    from stacks.azure.arm import ArmError

    try:
        arm = _arm(cfg)
        states = {p["namespace"]: p.get("registrationState", "") for p in
                  arm.pages(f"/subscriptions/{arm.subscription}/providers", "2021-04-01")}
        feature = arm.get(f"/subscriptions/{arm.subscription}/providers/Microsoft.Features/providers/"
                          "Microsoft.Compute/features/EncryptionAtHost", "2021-07-01") or {}
    except (ArmError, KitError) as exc:
        return _fail("azure providers", exc, "needs Reader on the subscription")
    return providers_check(states, (feature.get("properties") or {}).get("state", "NotRegistered"))


def providers_check(states: dict[str, str], encryption_at_host: str) -> Check:
    """The stack's resource providers registered (namespace -> registrationState), and the
    encryption-at-host feature its node pools use."""
    lower = {k.lower(): v for k, v in states.items()}
    missing = [p for p in PROVIDERS if lower.get(p.lower()) != "Registered"]
    if missing:
        return Check("azure providers", False, f"not registered: {', '.join(missing)}",
                     " && ".join(f"az provider register -n {p}" for p in missing))
    if encryption_at_host != "Registered":
        return Check("azure providers", False,
                     f"feature Microsoft.Compute/EncryptionAtHost is {encryption_at_host}",
                     "az feature register --namespace Microsoft.Compute --name EncryptionAtHost "
                     "&& az provider register -n Microsoft.Compute")
    return Check("azure providers", True, f"{len(PROVIDERS)} providers registered, encryption at host on")


def gpu_need(cfg: "KitConfig") -> tuple[str, int]:
    """(the GPU pool's VM size, vCPUs a full pool needs)."""
    from stacks.azure import SUPPORT

    offer = SUPPORT.gpu_offer(cfg.gpu.type, cfg.gpu.count)
    return offer.machine_types[0], offer.vcpus * cfg.gpu.max_nodes


def gpu_quota(cfg: "KitConfig") -> Check:
    from stacks.azure.arm import ArmError

    try:
        arm = _arm(cfg)
        usages = arm.pages(f"/subscriptions/{arm.subscription}/providers/Microsoft.Compute/locations/"
                           f"{cfg.region}/usages", "2024-07-01")
    except (ArmError, KitError) as exc:
        return _fail("gpu quota", exc, "needs Reader on the subscription, or check quotas in the portal")
    return quota_check(cfg, usages)


def quota_check(cfg: "KitConfig", usages: list[dict[str, Any]]) -> Check:
    """The GPU pool's vCPU need against the region's Compute usages: the VM family's quota (and
    the regional Spot quota when gpu.spot), each minus what is already in use."""
    try:
        size, need = gpu_need(cfg)
    except KitError as exc:
        return Check("gpu quota", False, exc.message, exc.hint)
    by_name = {str((u.get("name") or {}).get("value", "")).lower(): u for u in usages}
    family = SPOT_FAMILY if cfg.gpu.spot else QUOTA_FAMILY[size]
    usage = by_name.get(family.lower())
    if usage is None:
        return Check("gpu quota", False, f"no quota named {family!r} in {cfg.region}",
                     "check the region offers the VM size: az vm list-skus -l REGION --size " + size)
    limit, used = int(usage.get("limit", 0)), int(usage.get("currentValue", 0))
    label = (usage.get("name") or {}).get("localizedValue") or family
    what = f"{label}: {used}/{limit} vCPUs used; {cfg.gpu.max_nodes} x {size} need {need}"
    if limit - used < need:
        return Check("gpu quota", False, what,
                     f"request {used + need} vCPUs: az quota update (or the portal's Quotas page) for "
                     f"{family} in {cfg.region}")
    return Check("gpu quota", True, what)


def state_container(cfg: "KitConfig") -> Check:
    """azblob:// Pulumi state: a secrets provider (azure.state_key_vault's key, or
    LIMA_KIT_SECRETS_PROVIDER), and a container that answers."""
    from stacks.clouds import secrets_provider

    url = cfg.state_url
    try:
        provider = secrets_provider(cfg)
    except KitError as exc:
        return Check("state", False, exc.message, exc.hint)
    account, container = state_location(url, os.environ)
    if not account:
        return Check("state", False, f"{url}: no storage account",
                     "use azblob://CONTAINER?storage_account=ACCOUNT, or set AZURE_STORAGE_ACCOUNT")
    try:
        from azure.identity import DefaultAzureCredential
        from azure.storage.blob import ContainerClient

        client = ContainerClient(f"https://{account}.blob.core.windows.net", container,
                                 credential=DefaultAzureCredential(exclude_interactive_browser_credential=True))
        exists = client.exists(timeout=10)
    except Exception as exc:  # noqa: BLE001 (any SDK failure is one line here)
        return Check("state", False, f"{url}: {' '.join(str(exc).split())[:140]}",
                     "check the credentials and Storage Blob Data Contributor on the container")
    if not exists:
        return Check("state", False, f"{url}: container {container} not found in {account}",
                     f"az storage container create --account-name {account} -n {container} --auth-mode login")
    return Check("state", True, f"{url} (secrets: {provider})")


def state_location(url: str, env: Any) -> tuple[str, str]:
    """(account, container) of an azblob:// state URL, as Pulumi's backend reads it: the
    container is the URL's host, the account its storage_account query or AZURE_STORAGE_ACCOUNT."""
    from urllib.parse import parse_qs, urlparse

    parsed = urlparse(url)
    account = (parse_qs(parsed.query).get("storage_account") or [env.get("AZURE_STORAGE_ACCOUNT", "")])[0]
    return account, parsed.netloc
