"""Azure Resource Manager's REST API through azure-identity's credential and the standard
library: what `kit doctor`, adoption, purge and the leak report ask Azure.

Why not the azure-mgmt-* SDKs: the kit makes a handful of GETs, one POST (Resource Graph) and
one DELETE, across six resource providers; six management SDKs (tens of MB) for that would
slow installs and `kit` start-up for nothing. azure-identity (already in the storage extra)
supplies the token, so the same credentials as the SDK-based storage client are used.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from kit.errors import KitError, require

ENDPOINT = "https://management.azure.com"
SCOPE = "https://management.azure.com/.default"


class ArmError(Exception):
    """An ARM error answer: HTTP status, Azure's error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class Arm:
    """One subscription's ARM endpoint. `credential` is any azure-identity credential."""

    credential: Any
    subscription: str
    endpoint: str = ENDPOINT
    timeout: float = 20.0

    def request(self, method: str, path: str, api_version: str, body: Any = None) -> dict[str, Any]:
        """The JSON answer ({} for an empty one); ArmError for an error status."""
        sep = "&" if "?" in path else "?"
        url = f"{self.endpoint}{path}{sep}api-version={api_version}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Bearer {bearer(self.credential, SCOPE)}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 (https only)
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise _error(exc.code, exc.read()) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ArmError(0, "Unreachable", f"{self.endpoint}: {getattr(exc, 'reason', exc)}") from None
        return json.loads(raw) if raw.strip() else {}

    def get(self, path: str, api_version: str) -> dict[str, Any] | None:
        """The resource, or None when it does not exist (404)."""
        try:
            return self.request("GET", path, api_version)
        except ArmError as exc:
            if exc.status == 404:
                return None
            raise

    def pages(self, path: str, api_version: str) -> list[dict[str, Any]]:
        """Every `value` item of a list answer, following nextLink."""
        items: list[dict[str, Any]] = []
        page = self.request("GET", path, api_version)
        while True:
            items += page.get("value") or []
            link = page.get("nextLink")
            if not link:
                return items
            page = self.request("GET", link[len(self.endpoint):] if link.startswith(self.endpoint)
                                else link, api_version)

    def graph(self, query: str) -> list[dict[str, Any]]:
        """Rows of an Azure Resource Graph query over this subscription."""
        rows: list[dict[str, Any]] = []
        body: dict[str, Any] = {"subscriptions": [self.subscription], "query": query,
                                "options": {"resultFormat": "objectArray"}}
        while True:
            page = self.request("POST", "/providers/Microsoft.ResourceGraph/resources", "2022-10-01", body)
            rows += page.get("data") or []
            token = page.get("$skipToken")
            if not token:
                return rows
            body = {**body, "options": {**body["options"], "$skipToken": token}}


@contextmanager
def quiet_identity() -> Iterator[None]:
    """azure-identity logs a dozen-line warning for every failed token request before raising;
    the kit says it in one line instead."""
    log = logging.getLogger("azure.identity")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def bearer(credential: Any, scope: str) -> str:
    """A token from an azure-identity credential; ArmError (401) when there are no credentials,
    with the first line of azure-identity's explanation."""
    from azure.core.exceptions import ClientAuthenticationError

    try:
        with quiet_identity():
            return credential.get_token(scope).token
    except ClientAuthenticationError as exc:
        text = str(exc).strip()
        raise ArmError(401, "NoCredentials", text.splitlines()[0] if text else type(exc).__name__) from None


def _error(status: int, raw: bytes) -> ArmError:
    try:
        err = json.loads(raw).get("error") or {}
    except (ValueError, AttributeError):
        err = {}
    return ArmError(status, str(err.get("code") or "Error"),
                    " ".join(str(err.get("message") or raw[:200].decode(errors="replace")).split()))


def connect(subscription: str) -> Arm:
    """ARM for kit.yaml's subscription with the default azure-identity chain (environment,
    workload identity, managed identity, the Azure CLI's login)."""
    identity = require("azure.identity", "azure")
    return Arm(identity.DefaultAzureCredential(exclude_interactive_browser_credential=True), subscription)


def failure(what: str, exc: Exception, permissions: str) -> KitError:
    """One line for a failed ARM conversation, naming the permissions involved."""
    detail = " ".join(str(exc).split())[:200]
    return KitError(f"azure: {what}: {detail}",
                    hint=f"check the credentials (`kit doctor`); the operator needs {permissions}")
