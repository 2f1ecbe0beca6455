"""Tokens from the application-default credentials (`gcloud auth application-default login`,
a workload's own identity, GOOGLE_APPLICATION_CREDENTIALS): for the cluster's kubeconfig
(`kit cluster-token gcp`) and for pushing the kit's images to Artifact Registry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from kit.errors import KitError, require

if TYPE_CHECKING:
    from kit.config import KitConfig

SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def token() -> tuple[str, datetime]:
    """A fresh access token and its expiry (UTC)."""
    require("google.auth", "gcp")
    import google.auth
    import google.auth.exceptions
    from google.auth.transport.requests import Request

    try:
        creds, _ = google.auth.default(scopes=[SCOPE])
        creds.refresh(Request())
    except google.auth.exceptions.GoogleAuthError as exc:
        raise KitError(f"gcp: no usable application-default credentials: {' '.join(str(exc).split())[:160]}",
                       hint="gcloud auth application-default login") from None
    expiry = creds.expiry or datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(minutes=30)
    return creds.token, expiry.replace(tzinfo=timezone.utc) if expiry.tzinfo is None else expiry


def registry_login(cfg: "KitConfig", registry: str) -> tuple[str, str]:
    """Artifact Registry takes an OAuth access token as the password of oauth2accesstoken."""
    return "oauth2accesstoken", token()[0]
