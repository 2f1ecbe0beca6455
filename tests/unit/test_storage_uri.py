"""Storage URIs mean one thing everywhere: kit.data.storage.parse_uri is the one parser."""

from __future__ import annotations

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
