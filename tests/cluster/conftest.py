"""Shared configs for the cluster tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.config import parse
from tests.cluster.moto_aws import REGION

AWS = {"name": "acme-notes", "target": "aws", "region": "us-east-1",
       "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
       "data": {"uri": "s3://acme-clinical-notes/sft/"},
       "gpu": {"type": "l4", "count": 1, "max_nodes": 2}}
K8S = {"name": "acme-notes", "target": "kubernetes",
       "storage": {"artifacts_uri": "s3://acme-kit-artifacts", "models_uri": "s3://acme-kit-models",
                   "bucket_owner": "123456789012"},
       "model": {"id": "s3://acme-models/llama/"}, "data": {"uri": "s3://acme-clinical-notes/sft/"},
       "kubernetes": {"context": "onprem-gpu"}}


def make(base: dict, tmp_path: Path, **over):
    raw = json.loads(json.dumps(base))
    raw.update(over)
    return parse(raw, base_dir=tmp_path)


@pytest.fixture
def aws_cfg(tmp_path):
    return make(AWS, tmp_path)


@pytest.fixture
def k8s_cfg(tmp_path):
    return make(K8S, tmp_path)


@pytest.fixture(autouse=True)
def _no_passphrase_env(monkeypatch):
    for var in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "LIMA_KIT_SECRETS_PROVIDER"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def aws(monkeypatch):
    """moto's in-process AWS (one account, one region) with fake credentials only: every
    boto3 client made meanwhile talks to it. Yields service (and region) -> a client."""
    moto = pytest.importorskip("moto")
    boto3 = pytest.importorskip("boto3")
    for var, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto.mock_aws():
        yield lambda service, region=REGION: boto3.client(service, region_name=region)
