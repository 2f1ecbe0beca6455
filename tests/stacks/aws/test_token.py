"""The EKS kubeconfig runs `kit cluster-token aws CLUSTER REGION`, not the AWS CLI: its token
is the shape the EKS authenticator accepts, made with botocore alone (no network)."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlparse

import pytest

from kit.errors import KitError
from tests.conftest import run_kit
from tests.stacks.conftest import plan_of

KEYS = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}


def _decode(token: str) -> str:
    body = token.removeprefix("k8s-aws-v1.")
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def test_the_kubeconfig_needs_no_aws_cli():
    """`aws eks get-token` made the AWS CLI a hidden prerequisite of every kubectl call."""
    outputs = plan_of().outputs
    config = json.loads(outputs["kubeconfig"]["value"])     # a secret output
    (user,) = config["users"]
    spec = user["user"]["exec"]
    assert spec["command"] == "kit"
    assert spec["args"] == ["cluster-token", "aws", "acme-notes", "us-east-1"]
    assert "aws" != spec["command"] and "get-token" not in spec["args"]


def test_the_token_is_a_presigned_get_caller_identity_url_over_the_cluster_header(monkeypatch):
    """aws-iam-authenticator (README, "API Authorization from Outside a Cluster"; pkg/token/token.go)
    and awscli/customizations/eks/get_token.py, read 2026-12-07: `k8s-aws-v1.` + base64url (no
    padding) of a presigned STS GetCallerIdentity GET URL whose SigV4 signature covers the
    `x-k8s-aws-id` header naming the cluster, valid 60 seconds."""
    for key, value in KEYS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    from stacks.aws.token import token

    value, expires = token("acme-notes", "eu-west-1")
    assert value.startswith("k8s-aws-v1.") and "=" not in value
    assert "+" not in value and "/" not in value               # base64url
    url = urlparse(_decode(value))
    query = parse_qs(url.query)
    assert url.scheme == "https" and url.hostname.startswith("sts.")
    assert url.hostname.endswith(".amazonaws.com")
    assert query["Action"] == ["GetCallerIdentity"] and query["Version"] == ["2011-06-15"]
    assert query["X-Amz-Expires"] == ["60"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"][0].startswith("AKIAIOSFODNN7EXAMPLE/")
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")
    assert expires.tzinfo is not None


def test_cluster_token_prints_an_exec_credential_for_kubectl(monkeypatch):
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    out = run_kit("cluster-token", "aws", "acme-notes", "us-east-1",
                  env={**KEYS, "AWS_CONFIG_FILE": "/dev/null"})
    assert out.returncode == 0, out.stderr
    cred = json.loads(out.stdout)
    assert cred["kind"] == "ExecCredential"
    assert cred["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert "acme-notes" not in cred["status"]["token"]          # it is encoded, not plain
    assert "x-k8s-aws-id" in _decode(cred["status"]["token"])
    assert cred["status"]["expirationTimestamp"].endswith("Z")


def test_without_credentials_the_token_is_a_one_line_error(monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    from stacks.aws.token import token

    with pytest.raises(KitError) as err:
        token("acme-notes", "us-east-1")
    assert err.value.one_line() == ("aws: no credentials for the cluster's token (hint: "
                                    "`aws sso login` / `aws configure`, or set AWS_PROFILE)")


def test_without_the_cluster_it_says_what_it_needs():
    from stacks.aws.token import token

    with pytest.raises(KitError, match="needs the cluster name and region"):
        token()
