"""The logins `kit up` copies and pushes with on GCP and Azure (CloudSupport.registry_login),
from each cloud SDK's own credentials: Artifact Registry takes an OAuth access token of the
application-default credentials as the password of `oauth2accesstoken`
(https://docs.cloud.google.com/artifact-registry/docs/docker/authentication, read 2026-12-07);
ACR an ACR refresh token, exchanged at the registry's /oauth2/exchange for an Entra ID token
(ACR's REST reference, https://learn.microsoft.com/en-us/rest/api/containerregistry/, read
2026-12-07), as the password of the user 00000000-0000-0000-0000-000000000000
(https://apptainer.org/docs/user/main/cli/apptainer_registry_login.html, read 2026-12-07).
The SDKs' credential lookups and the exchange's HTTPS call are faked."""

from __future__ import annotations

import io
import json
import urllib.parse
from datetime import datetime, timedelta, timezone

import pytest

from kit.config import parse
from kit.errors import KitError
from stacks.clouds import cloud_support

AR = "us-central1-docker.pkg.dev/acme-ml-prod/acme-notes"
ACR = "lkacmenotes0123456789.azurecr.io"


def _cfg(target: str, tmp_path):
    if target == "gcp":
        pytest.importorskip("google.auth")
        from tests.stacks.gcp.conftest import BASE
    else:
        pytest.importorskip("azure.identity")
        from tests.stacks.azure.conftest import BASE
    return parse(json.loads(json.dumps(BASE)), base_dir=tmp_path)


def test_gcp_pushes_with_an_access_token_of_the_application_default_credentials(tmp_path, monkeypatch):
    cfg = _cfg("gcp", tmp_path)
    import google.auth

    class Creds:
        token = None
        expiry = None

        def refresh(self, _request):
            self.token = "ya29.access-token"
            self.expiry = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(hours=1)

    asked = []
    monkeypatch.setattr(google.auth, "default", lambda scopes: asked.append(scopes) or (Creds(), "acme-ml-prod"))
    assert cloud_support("gcp").registry_login(cfg, AR) == ("oauth2accesstoken", "ya29.access-token")
    assert asked == [["https://www.googleapis.com/auth/cloud-platform"]]


def test_gcp_without_credentials_is_one_line_with_the_fix(tmp_path, monkeypatch):
    cfg = _cfg("gcp", tmp_path)
    import google.auth
    import google.auth.exceptions

    def none(scopes):
        raise google.auth.exceptions.DefaultCredentialsError("Your default credentials were not found.\nTo set up ...")

    monkeypatch.setattr(google.auth, "default", none)
    with pytest.raises(KitError) as err:
        cloud_support("gcp").registry_login(cfg, AR)
    assert "\n" not in err.value.one_line() and err.value.hint == "gcloud auth application-default login"


class _Entra:
    scopes: list = []

    def __init__(self, **kwargs):
        assert kwargs == {"exclude_interactive_browser_credential": True}

    def get_token(self, *requested):
        from azure.core.credentials import AccessToken

        _Entra.scopes.extend(requested)
        return AccessToken("entra-token", 1_900_000_000)


def test_azure_exchanges_an_entra_token_for_an_acr_refresh_token(tmp_path, monkeypatch):
    cfg = _cfg("azure", tmp_path)
    import azure.identity

    import stacks.azure.registry_login as registry_login

    _Entra.scopes = []
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", _Entra)
    sent = []

    def urlopen(req, timeout):
        sent.append((req.full_url, req.get_method(), urllib.parse.parse_qs(req.data.decode())))
        return io.BytesIO(json.dumps({"refresh_token": "acr-refresh"}).encode())

    monkeypatch.setattr(registry_login.urllib.request, "urlopen", urlopen)
    assert cloud_support("azure").registry_login(cfg, ACR + "/nvidia-device-plugin") == (
        "00000000-0000-0000-0000-000000000000", "acr-refresh")
    assert _Entra.scopes == ["https://containerregistry.azure.net/.default"]
    assert sent == [(f"https://{ACR}/oauth2/exchange", "POST", {
        "grant_type": ["access_token"], "service": [ACR], "access_token": ["entra-token"]})]


def test_azure_exchange_refused_is_one_line_naming_the_registry(tmp_path, monkeypatch):
    cfg = _cfg("azure", tmp_path)
    import azure.identity

    import stacks.azure.registry_login as registry_login

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", _Entra)

    def unreachable(req, timeout):
        raise OSError("timed out")

    monkeypatch.setattr(registry_login.urllib.request, "urlopen", unreachable)
    with pytest.raises(KitError) as err:
        cloud_support("azure").registry_login(cfg, ACR)
    assert err.value.one_line().startswith(f"{ACR}: cannot get a push token: timed out")
    assert "network.operator_cidrs" in err.value.hint
