"""Storage URIs mean one thing everywhere: kit.data.storage.parse_uri is the one parser."""

from __future__ import annotations

import logging

import pytest

from kit.data.storage import Location, bucket_scheme, parse_uri
from kit.errors import KitError


@pytest.mark.parametrize("uri", ["az://acmedata/notes/sft/",
                                 "https://acmedata.blob.core.windows.net/notes/sft/"])
def test_both_azure_forms_name_account_container_and_prefix(uri):
    loc = parse_uri(uri)
    assert loc == Location("az", "notes", "sft/", "acmedata")
    assert loc.uri == "az://acmedata/notes/sft/" and loc.root == "az://acmedata/notes"
    assert bucket_scheme(uri) == "az"


@pytest.mark.parametrize("uri,loc", [
    ("s3://acme-data/sft", Location("s3", "acme-data", "sft/")),
    ("gs://acme-data", Location("gs", "acme-data", "")),
    ("gcs://acme-data/a/b/", Location("gs", "acme-data", "a/b/")),
])
def test_bucket_uris(uri, loc):
    assert parse_uri(uri) == loc


@pytest.mark.parametrize("value", ["meta-llama/Llama-3.1-8B-Instruct", "./weights", "/abs/path",
                                   "file:///abs/path"])
def test_hub_ids_and_paths_are_not_buckets(value):
    assert bucket_scheme(value) is None


def test_an_azure_uri_without_an_account_is_one_line():
    with pytest.raises(KitError, match="is not a storage account name") as err:
        parse_uri("az://Notes_Container/sft/")
    assert "az://account/container/prefix/" in (err.value.hint or "")


def test_azure_storage_without_credentials_fails_at_once_in_one_line(monkeypatch):
    """Storage asks for a token only after an unauthenticated first request (a minute of
    retries where the account cannot be reached): the store asks for one first."""
    pytest.importorskip("azure.identity")
    import azure.identity
    from azure.core.exceptions import ClientAuthenticationError

    from kit.data.storage import open_store
    from kit.errors import KitError

    asked = []

    class NoCredential:
        def get_token(self, *scopes, **_kwargs):
            asked.append(scopes)
            raise ClientAuthenticationError("no credential in this environment")

    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", NoCredential)
    with pytest.raises(KitError) as err:
        open_store("az://acmeclinical/notes/sft/")
    assert err.value.one_line().startswith("az://acmeclinical/notes/sft/: authentication failed")
    assert asked == [("https://storage.azure.com/.default",)]
    # Quiet while it asks (a dozen lines per failure), then the process's logging as it was.
    assert logging.getLogger("azure.identity").level == logging.NOTSET
