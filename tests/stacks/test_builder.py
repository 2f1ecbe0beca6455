"""The image builder (`kit images build --remote`): a CodeBuild project inside the private VPC
that reaches only the VPC's endpoints and S3, pushes only the kit's two repositories, reads
only the build bundles, and encrypts with the stack's key."""

from __future__ import annotations

import json

from tests.stacks.conftest import inputs, policy_doc

PROJECT = "aws:codebuild/project:Project"


def test_builder_runs_in_the_private_vpc_with_the_stacks_key(default_plan):
    project = inputs(default_plan, PROJECT)
    assert project["name"] == "acme-notes-images"
    # The stack's key, the same the buckets use (the mocks name its ARN after the resource).
    assert project["encryptionKey"] == "arn:aws:kms:us-east-1:123456789012:key/key"
    vpc = project["vpcConfig"]
    subnets = {r["urn"] for r in default_plan.of_type("aws:ec2/subnet:Subnet") if r["name"].startswith("private")}
    assert len(vpc["subnets"]) == 3 and len(subnets) == 3
    env = project["environment"]
    assert env["privilegedMode"] is True and env["type"] == "LINUX_CONTAINER"
    assert project["logsConfig"]["cloudwatchLogs"]["status"] == "ENABLED"
    assert project["logsConfig"]["s3Logs"]["status"] == "DISABLED"
    group = inputs(default_plan, "aws:cloudwatch/logGroup:LogGroup", "builder-logs")
    assert group["name"] == "/aws/codebuild/acme-notes-images" and group["kmsKeyId"]


def test_builder_reaches_only_the_endpoints_and_s3(default_plan):
    sg = inputs(default_plan, "aws:ec2/securityGroup:SecurityGroup", "builder-sg")
    assert sg["ingress"] == []
    rules = sg["egress"]
    assert [r.get("cidrBlocks") for r in rules] == [["10.42.0.0/16"], None]
    assert rules[1]["prefixListIds"] == ["pl-63a5400a"]
    assert all(r["fromPort"] == 443 == r["toPort"] for r in rules)
    assert not any("0.0.0.0/0" in (r.get("cidrBlocks") or []) for r in rules)


def test_builder_role_pushes_only_the_kits_repositories_and_reads_only_bundles(default_plan):
    trust = json.loads(inputs(default_plan, "aws:iam/role:Role", "builder-role")["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "codebuild.amazonaws.com"}
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    statements = {s["Sid"]: s for s in policy_doc(
        inputs(default_plan, "aws:iam/rolePolicy:RolePolicy", "builder-inline")["policy"])}
    assert statements["PushKitImages"]["Resource"] == [
        "arn:aws:ecr:us-east-1:123456789012:repository/acme-notes/kit",
        "arn:aws:ecr:us-east-1:123456789012:repository/acme-notes/trainer"]
    assert statements["Bundles"]["Resource"] == ["arn:aws:s3:::acme-notes-artifacts-123456789012/builds/*"]
    assert statements["Bundles"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert not any(s["Resource"] == "*" and s["Action"] != ["ecr:GetAuthorizationToken"]
                   and s["Sid"] != "VpcNetworking" for s in statements.values())


def test_the_buildspec_builds_from_the_bundle_pushes_and_exports_the_digest(default_plan):
    source = inputs(default_plan, PROJECT)["source"]
    assert source["type"] == "S3"
    assert source["location"] == "acme-notes-artifacts-123456789012/builds/bundle.zip"
    spec = json.loads(source["buildspec"])
    commands = " ".join(spec["phases"]["build"]["commands"])
    assert "docker build --file Dockerfile" in commands and 'docker push "$IMAGE"' in commands
    assert spec["env"]["exported-variables"] == ["IMAGE_DIGEST"]
