"""`kit doctor`'s Azure checks, the cluster token and retail prices, through their public
functions with fakes for ARM and azure-identity: quota of the VM family, resource providers,
azblob state and its key vault, an Entra token for AKS, one line when there are no credentials."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from kit.errors import KitError
from stacks.azure import preflight, prices
from tests.stacks.azure.conftest import SUB, make_cfg


def _usage(name: str, limit: int, used: int = 0) -> dict:
    return {"name": {"value": name, "localizedValue": f"{name} vCPUs"}, "limit": limit, "currentValue": used}


def test_gpu_quota_counts_the_vm_familys_free_vcpus():
    cfg = make_cfg()          # 2 x Standard_ND96isr_H100_v5: 192 vCPUs
    ok = preflight.quota_check(cfg, [_usage("standardNDSH100v5Family", 400, 100)])
    assert ok.ok and "100/400 vCPUs used; 2 x Standard_ND96isr_H100_v5 need 192" in ok.detail
    short = preflight.quota_check(cfg, [_usage("standardNDSH100v5Family", 200, 100)])
    assert not short.ok and "request 292 vCPUs" in short.fix
    missing = preflight.quota_check(cfg, [_usage("standardNCadsH100v5Family", 1000)])
    assert not missing.ok and "no quota named 'standardNDSH100v5Family' in eastus2" in missing.detail


def test_spot_pools_count_against_the_regional_spot_quota():
    cfg = make_cfg(gpu={"spot": True})
    assert preflight.quota_check(cfg, [_usage("lowPriorityCores", 192)]).ok
    assert not preflight.quota_check(cfg, [_usage("standardNDSH100v5Family", 1000)]).ok


def test_a_gpu_azure_lacks_fails_the_quota_check_with_the_catalog():
    check = preflight.quota_check(make_cfg(gpu={"type": "l40s", "count": 1}), [])
    assert not check.ok and check.fix == "azure has a100, h100, h200"


def test_resource_providers_and_encryption_at_host_must_be_registered():
    registered = dict.fromkeys(preflight.PROVIDERS, "Registered")
    assert preflight.providers_check(registered, "Registered").ok
    missing = preflight.providers_check({**registered, "Microsoft.ContainerService": "NotRegistered"}, "Registered")
    assert not missing.ok and missing.fix == "az provider register -n Microsoft.ContainerService"
    feature = preflight.providers_check(registered, "Pending")
    assert not feature.ok and "EncryptionAtHost is Pending" in feature.detail


def test_subscription_state_and_azblob_state_location():
    assert not preflight.subscription_check({"subscriptionId": SUB, "state": "Disabled"}).ok
    assert preflight.subscription_check({"subscriptionId": SUB, "displayName": "prod", "state": "Enabled"}).ok
    assert preflight.state_location("azblob://pulumi-state?storage_account=acmestate", {}) == ("acmestate",
                                                                                              "pulumi-state")
    assert preflight.state_location("azblob://pulumi-state", {"AZURE_STORAGE_ACCOUNT": "envacct"}) == (
        "envacct", "pulumi-state")


def test_azblob_state_keeps_secrets_under_the_operators_key_vault(monkeypatch):
    from stacks.clouds import SECRETS_ENV, secrets_provider

    monkeypatch.delenv(SECRETS_ENV, raising=False)
    state = "azblob://pulumi-state?storage_account=acmestate"
    check = preflight.state_container(make_cfg(state=state))
    assert not check.ok and "the state key's state_key_vault is unknown" in check.detail
    assert check.fix.startswith("set azure.state_key_vault in kit.yaml")
    cfg = make_cfg(state=state, azure={"state_key_vault": "acme-state"})
    assert secrets_provider(cfg) == "azurekeyvault://acme-state.vault.azure.net/keys/lima-kit-state"


def test_cluster_token_is_an_entra_token_for_aks(monkeypatch):
    import azure.identity
    from azure.core.credentials import AccessToken

    scopes = []

    class FakeCredential:
        def __init__(self, **kwargs):
            assert kwargs == {"exclude_interactive_browser_credential": True}

        def get_token(self, *requested):
            scopes.extend(requested)
            return AccessToken("entra-token", 1_900_000_000)

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", FakeCredential)
    from kit.cluster.credential import exec_credential

    answer = json.loads(exec_credential("azure"))
    assert scopes == ["6dae42f8-4368-4678-94ff-3960e28e3630/.default"]
    assert answer["kind"] == "ExecCredential"
    assert answer["status"] == {"token": "entra-token", "expirationTimestamp": datetime.fromtimestamp(
        1_900_000_000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_cluster_token_without_credentials_is_one_line(monkeypatch):
    import azure.identity
    from azure.core.exceptions import ClientAuthenticationError

    class NoCredential:
        def __init__(self, **kwargs):
            pass

        def get_token(self, *scopes):
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token\nAttempted ...")

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", NoCredential)
    from stacks.azure.token import token

    with pytest.raises(KitError) as err:
        token()
    assert "\n" not in err.value.one_line() and "az login" in err.value.hint


def test_prices_take_the_lowest_linux_meter_on_demand_and_spot():
    size = "Standard_NC40ads_H100_v5"
    item = {"armSkuName": size, "armRegionName": "eastus2", "unitOfMeasure": "1 Hour",
            "productName": "NCadsH100v5 Series"}
    items = [{**item, "skuName": "NC40ads H100 v5", "retailPrice": 6.98},
             {**item, "skuName": "NC40ads H100 v5", "retailPrice": 7.5},
             {**item, "skuName": "NC40ads H100 v5 Spot", "retailPrice": 2.1},
             {**item, "skuName": "NC40ads H100 v5 Low Priority", "retailPrice": 1.0},
             {**item, "skuName": "NC40ads H100 v5", "retailPrice": 9.9, "productName": "NCadsH100v5 Series Windows"},
             {**item, "skuName": "NC40ads H100 v5", "retailPrice": 0.0}]
    catalog = prices.build("eastus2", [size, "Standard_NC24ads_A100_v4"], items, today="2026-11-29")
    assert catalog["regions"]["eastus2"] == {size: {"on_demand": 6.98, "spot": 2.1},
                                             "Standard_NC24ads_A100_v4": {"on_demand": None, "spot": None}}
    assert catalog["date"] == "2026-11-29"


def test_arm_without_credentials_is_one_arm_error_and_no_log_flood(caplog):
    import logging

    from azure.core.exceptions import ClientAuthenticationError

    from stacks.azure.arm import Arm, ArmError

    class NoCredential:
        def get_token(self, *scopes):
            logging.getLogger("azure.identity._credentials.default").warning("Attempted credentials:\n...")
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token\nAttempted ...")

    with caplog.at_level(logging.INFO), pytest.raises(ArmError) as err:
        Arm(NoCredential(), SUB).get(f"/subscriptions/{SUB}", "2022-12-01")
    assert (err.value.status, err.value.code) == (401, "NoCredentials")
    assert str(err.value) == "401 NoCredentials: DefaultAzureCredential failed to retrieve a token"
    assert "Attempted credentials" not in caplog.text
    assert logging.getLogger("azure.identity").level == logging.NOTSET      # restored
