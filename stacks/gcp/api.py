"""Google's APIs as the kit's operator calls them (adoption, purge, leak report, doctor): the
application-default credentials, Cloud Storage's client for buckets, an authorized session
for the REST APIs, and one-line errors naming the permissions involved."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kit.errors import KitError, require

if TYPE_CHECKING:
    from kit.config import KitConfig

# Named in errors: what the operator needs for adoption, and for --purge (stacks/gcp/kept.py).
PERMISSIONS = ("storage.buckets.get, cloudkms.keyRings.get, cloudkms.cryptoKeys.get, "
               "logging.buckets.get")
PURGE_PERMISSIONS = ("storage.objects.list/delete, storage.buckets.delete, "
                     "cloudkms.cryptoKeyVersions.list/destroy, logging.buckets.delete")


class GoogleApi:
    """Api over the application-default credentials: Cloud Storage's client for buckets, the
    REST APIs (an authorized session) for Cloud KMS and Cloud Logging."""

    def __init__(self, cfg: "KitConfig") -> None:
        require("google.cloud.storage", "gcp")
        import google.auth
        import google.auth.exceptions
        from google.auth.transport.requests import AuthorizedSession
        from google.cloud import storage

        try:
            creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise KitError(f"gcp: no application-default credentials: {exc}",
                           hint="gcloud auth application-default login") from None
        self.session = AuthorizedSession(creds)
        self.storage = storage.Client(project=cfg.gcp.project, credentials=creds)

    def bucket_labels(self, name: str) -> dict[str, str] | None:
        from google.api_core import exceptions

        try:
            bucket = self.storage.lookup_bucket(name)
        except exceptions.Forbidden:
            raise KitError(f"gs://{name}: the kit's bucket name is taken by a bucket this project "
                           "does not own (or may not read)",
                           hint="bucket names are global: rename the deployment (name: in kit.yaml)"
                           ) from None
        return None if bucket is None else dict(bucket.labels or {})

    def uniform_access(self, name: str) -> bool | None:
        """Whether the bucket has uniform bucket-level access (None: no such bucket)."""
        from google.api_core import exceptions

        try:
            bucket = self.storage.lookup_bucket(name)
        except exceptions.Forbidden:
            raise KitError(f"gs://{name}: the operator may not read the bucket's settings",
                           hint="grant storage.buckets.get on it (e.g. Storage Legacy Bucket Reader)") from None
        return None if bucket is None else bool(bucket.iam_configuration.uniform_bucket_level_access_enabled)

    def bucket_project_number(self, name: str) -> str | None:
        """The number of the project that owns the bucket (None: no such bucket)."""
        from google.api_core import exceptions

        try:
            bucket = self.storage.lookup_bucket(name)
        except exceptions.Forbidden:
            raise KitError(f"gs://{name}: the operator may not read the bucket's settings",
                           hint="grant storage.buckets.get on it (e.g. Storage Legacy Bucket Reader)") from None
        return None if bucket is None else str(bucket.project_number)

    def empty_and_delete_bucket(self, name: str) -> int:
        bucket = self.storage.bucket(name)
        count = 0
        for blob in self.storage.list_blobs(name, versions=True):
            bucket.delete_blob(blob.name, generation=blob.generation)
            count += 1
        bucket.delete()
        return count

    def get(self, url: str) -> dict[str, Any] | None:
        response = self.session.get(url, timeout=20)
        if response.status_code == 404:
            return None
        return self._json(response, url)

    def call(self, method: str, url: str) -> dict[str, Any]:
        return self._json(self.session.request(method, url, timeout=20), url)

    @staticmethod
    def _json(response: Any, url: str) -> dict[str, Any]:
        if response.status_code >= 400:
            detail = " ".join(response.text.split())[:200]
            raise KitError(f"gcp: {url.split('?')[0]}: HTTP {response.status_code}: {detail}",
                           hint="check the credentials and the project's IAM (`kit doctor`); "
                                f"the kit needs {PERMISSIONS}, for --purge {PURGE_PERMISSIONS}")
        return response.json() if response.content else {}
