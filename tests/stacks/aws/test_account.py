"""AWS account state the first `kit up` meets: a key policy KMS accepts on an account that
never used Auto Scaling, doctor's check of the Auto Scaling service-linked role (against moto),
and a DNS firewall that `kit down` can remove."""

from __future__ import annotations

import json

import pytest

from kit.config import parse
from tests.stacks.conftest import BASE, inputs

SLR = ("arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/"
       "AWSServiceRoleForAutoScaling")


def _statements(plan) -> dict[str, dict]:
    doc = json.loads(inputs(plan, "aws:kms/key:Key")["policy"])
    return {s["Sid"]: s for s in doc["Statement"]}


def test_key_policy_names_no_principal_that_may_not_exist(default_plan):
    """KMS refuses a key policy whose Principal is a role that does not exist
    ("MalformedPolicyDocumentException: ... invalid principals"), and AWSServiceRoleForAutoScaling
    exists only once the account has used Auto Scaling
    (github.com/terraform-aws-modules/terraform-aws-eks/issues/3013, read 2026-12-07). Every
    Principal of the key policy is the account root, a service, or "*" narrowed by conditions."""
    for sid, stmt in _statements(default_plan).items():
        principal = stmt["Principal"]
        named = principal.get("AWS") if isinstance(principal, dict) else principal
        assert named in ("*", "arn:aws:iam::123456789012:root", None), sid
        assert "AWSServiceRoleForAutoScaling" not in json.dumps(principal), sid


def test_key_policy_admits_the_autoscaling_role_by_condition_through_ec2_only(default_plan):
    """Auto Scaling needs the key's use and CreateGrant for AWS resources to launch instances
    with encrypted volumes ("Required AWS KMS key policy for use with encrypted volumes",
    docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html,
    read 2026-12-07); here only as this account's role, and only through EC2."""
    stmts = _statements(default_plan)
    for sid in ("AutoScalingVolumes", "AutoScalingGrants"):
        cond = stmts[sid]["Condition"]
        assert stmts[sid]["Principal"] == {"AWS": "*"}
        assert cond["ArnEquals"] == {"aws:PrincipalArn": SLR}
        assert cond["StringEquals"] == {"kms:CallerAccount": "123456789012",
                                        "kms:ViaService": "ec2.us-east-1.amazonaws.com"}
    assert stmts["AutoScalingGrants"]["Action"] == ["kms:CreateGrant"]
    assert stmts["AutoScalingGrants"]["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert "kms:CreateGrant" not in stmts["AutoScalingVolumes"]["Action"]


@pytest.fixture
def aws_env(monkeypatch):
    moto = pytest.importorskip("moto")
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto.mock_aws():
        yield


def test_doctor_fails_with_the_fix_when_the_autoscaling_role_is_absent(aws_env):
    from stacks.aws.preflight import autoscaling_role

    check = autoscaling_role(parse(BASE))
    assert not check.ok
    assert "AWSServiceRoleForAutoScaling does not exist" in check.detail
    assert "aws iam create-service-linked-role --aws-service-name autoscaling.amazonaws.com" in check.fix


def test_doctor_passes_once_the_autoscaling_role_exists(aws_env):
    import boto3

    from stacks.aws.preflight import autoscaling_role

    boto3.client("iam").create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com")
    check = autoscaling_role(parse(BASE))
    assert check.ok, check
    assert check.detail.endswith("AWSServiceRoleForAutoScaling exists")


def test_doctor_runs_the_autoscaling_role_check_on_aws():
    pytest.importorskip("boto3")
    from stacks.aws.preflight import autoscaling_role, checks

    assert autoscaling_role in checks(parse(BASE))
