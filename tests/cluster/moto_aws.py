"""moto's in-process AWS for the adoption and purge tests: one account, one region, the
names the stack gives the kit's buckets and key alias for the `acme-notes` deployment."""

from __future__ import annotations

import pytest

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
ARTIFACTS = f"acme-notes-artifacts-{ACCOUNT}"
MODELS = f"acme-notes-models-{ACCOUNT}"
ALIAS = "alias/lima-kit/acme-notes"


@pytest.fixture
def aws(monkeypatch):
    """service (and region) -> a boto3 client against moto, with fake credentials only."""
    moto = pytest.importorskip("moto")
    boto3 = pytest.importorskip("boto3")
    for var, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto.mock_aws():
        yield lambda service, region=REGION: boto3.client(service, region_name=region)
