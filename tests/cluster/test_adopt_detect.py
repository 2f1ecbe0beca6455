"""Detection of what an earlier `kit down` kept (stacks.aws.kept) against moto's in-process AWS:
this stack's tagged buckets and key are adopted, a same-named resource without the stack's
tag is refused, nothing found means create. And the driver's pre-up hook."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from kit.errors import KitError
from stacks.aws.kept import STACK_TAG, adoptions, find_adoptions
from stacks.clouds import cloud_support
from tests.cluster.conftest import AWS, make
from tests.cluster.fakes import FakeStack, fake_access
from tests.cluster.moto_aws import ALIAS, ARTIFACTS, MODELS, REGION

moto = pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")


def kit_bucket(aws, name, tags: dict[str, str] | None, region=REGION):
    s3 = aws("s3", region)
    extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **extra)
    if tags is not None:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [
            {"Key": k, "Value": v} for k, v in tags.items()]})


def kit_key(aws, tags: dict[str, str]) -> str:
    kms = aws("kms")
    key_id = kms.create_key(Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()])[
        "KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=ALIAS, TargetKeyId=key_id)
    return key_id


OURS = {STACK_TAG: "acme-notes", "lima-kit:managed-by": "pulumi"}


def test_this_stacks_kept_buckets_and_key_are_adopted(aws, tmp_path):
    kit_bucket(aws, ARTIFACTS, OURS)
    kit_bucket(aws, MODELS, OURS)
    key_id = kit_key(aws, OURS)
    found = adoptions(make(AWS, tmp_path), {})
    assert found == {"artifacts": ARTIFACTS, "models": MODELS, "key": key_id, "key-alias": ALIAS}


def test_nothing_kept_means_everything_is_created(aws, tmp_path):
    kit_bucket(aws, "somebody-elses-bucket", None)
    assert adoptions(make(AWS, tmp_path), {}) == {}


def test_only_what_exists_is_adopted(aws, tmp_path):
    kit_bucket(aws, MODELS, OURS)
    assert adoptions(make(AWS, tmp_path), {}) == {"models": MODELS}


def test_a_same_named_bucket_without_the_stack_tag_is_refused(aws, tmp_path):
    kit_bucket(aws, ARTIFACTS, {"team": "data"})
    with pytest.raises(KitError) as err:
        adoptions(make(AWS, tmp_path), {})
    line = err.value.one_line()
    assert line.startswith(f"s3://{ARTIFACTS}: exists but is not tagged {STACK_TAG}")
    assert "never adopted" in line and "\n" not in line


def test_a_bucket_of_another_stack_is_refused(aws, tmp_path):
    kit_bucket(aws, ARTIFACTS, {STACK_TAG: "acme-billing"})
    with pytest.raises(KitError, match=f"tagged {STACK_TAG}=acme-billing, not {STACK_TAG}=acme-notes"):
        adoptions(make(AWS, tmp_path), {})


def test_a_bucket_with_no_tags_at_all_is_refused(aws, tmp_path):
    kit_bucket(aws, MODELS, None)
    with pytest.raises(KitError, match=f"not tagged {STACK_TAG}"):
        adoptions(make(AWS, tmp_path), {})


def test_a_kept_bucket_in_another_region_is_refused(aws, tmp_path):
    kit_bucket(aws, ARTIFACTS, OURS, region="eu-west-1")
    with pytest.raises(KitError, match="exists in eu-west-1, not us-east-1"):
        adoptions(make(AWS, tmp_path), {})


def test_an_alias_on_a_key_the_kit_did_not_make_is_refused(aws, tmp_path):
    kit_key(aws, {"owner": "security"})
    with pytest.raises(KitError) as err:
        adoptions(make(AWS, tmp_path), {})
    assert f"kms {ALIAS}" in err.value.message and "not tagged" in err.value.message
    assert f"delete-alias --alias-name {ALIAS}" in err.value.hint


def test_a_kept_key_scheduled_for_deletion_says_how_to_keep_it(aws, tmp_path):
    key_id = kit_key(aws, OURS)
    aws("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    with pytest.raises(KitError) as err:
        adoptions(make(AWS, tmp_path), {})
    assert "scheduled for deletion" in err.value.message
    assert f"cancel-key-deletion --key-id {key_id}" in err.value.hint
    assert f"enable-key --key-id {key_id}" in err.value.hint


def _state(*names_types):
    """An exported deployment; a child's URN carries its parent's type (key$alias)."""
    return {"resources": [{"urn": f"urn:pulumi:acme-notes::lima-kit::{typ}::{name}",
                           "type": typ.rsplit("$", 1)[-1], "id": name} for name, typ in names_types]}


def test_what_the_stack_already_manages_is_not_looked_up(tmp_path):
    state = _state(("artifacts", "aws:s3/bucket:Bucket"), ("models", "aws:s3/bucket:Bucket"),
                   ("key", "aws:kms/key:Key"), ("key-alias", "aws:kms/key:Key$aws:kms/alias:Alias"),
                   *[(g, "aws:cloudwatch/logGroup:LogGroup") for g in ("cluster-logs", "flow-logs",
                                                                       "builder-logs")])

    def no_aws(service):
        raise AssertionError(f"asked AWS ({service}) about resources the stack holds")

    assert find_adoptions(make(AWS, tmp_path), state, no_aws) == {}


def test_a_stack_that_holds_the_buckets_still_adopts_a_kept_key(aws, tmp_path):
    kit_bucket(aws, ARTIFACTS, {"team": "data"})   # would be refused if it were looked up
    key_id = kit_key(aws, OURS)
    state = _state(("artifacts", "aws:s3/bucket:Bucket"), ("models", "aws:s3/bucket:Bucket"))
    assert adoptions(make(AWS, tmp_path), state) == {"key": key_id, "key-alias": ALIAS}


def test_other_targets_adopt_nothing(tmp_path):
    from tests.cluster.conftest import K8S

    assert cloud_support("kubernetes").adopt(make(K8S, tmp_path), {}) == {}


def test_aws_errors_become_one_kit_error(aws, tmp_path):
    from botocore.exceptions import ClientError

    class Denied:
        def get_caller_identity(self):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetCallerIdentity")

    with pytest.raises(KitError, match="cannot check for resources kept by an earlier `kit down`"):
        find_adoptions(make(AWS, tmp_path), {}, lambda service: Denied())


# --- the driver's hook: adopt before up, through the stack config ---------------------------

def test_up_sets_the_adopt_config_before_pulumi_up(aws_cfg):
    from kit.infra.driver import Infra

    pytest.importorskip("pulumi.automation")
    log: list = []
    stack = FakeStack(log)
    seen = []

    def adopter(cfg, deployment):
        seen.append(deployment)
        return {"artifacts": ARTIFACTS}

    out = io.StringIO()
    driver = Infra(aws_cfg, Console(file=out, width=200), fake_access(aws_cfg, stack, adopt=adopter))
    driver.up()
    assert log == [("config", "false"), ("config", "false"), ("up", "false")]
    assert json.loads(stack.config["lima-kit:adopt"]) == {"artifacts": ARTIFACTS}
    assert seen == [stack.export_stack().deployment]    # the stack's own state, exported
    assert f"adopting artifacts {ARTIFACTS}" in out.getvalue()


def test_up_without_anything_kept_leaves_adopt_empty(aws_cfg):
    from kit.infra.driver import Infra

    pytest.importorskip("pulumi.automation")
    log: list = []
    stack = FakeStack(log)
    driver = Infra(aws_cfg, Console(file=io.StringIO()), fake_access(aws_cfg, stack))
    driver.up()
    assert log == [("config", "false"), ("up", "false")]
    assert json.loads(stack.config["lima-kit:adopt"]) == {}


def test_a_kept_audit_log_group_is_adopted_only_when_tagged_for_this_stack(aws, tmp_path):
    logs = aws("logs")
    logs.create_log_group(logGroupName="/aws/eks/acme-notes/cluster", tags={STACK_TAG: "acme-notes"})
    logs.create_log_group(logGroupName="/lima-kit/acme-notes/vpc-flow-logs", tags={STACK_TAG: "other"})
    held = _state(("artifacts", "aws:s3/bucket:Bucket"), ("models", "aws:s3/bucket:Bucket"),
                  ("key", "aws:kms/key:Key"), ("key-alias", "aws:kms/key:Key$aws:kms/alias:Alias"),
                  ("flow-logs", "aws:cloudwatch/logGroup:LogGroup"),
                  ("builder-logs", "aws:cloudwatch/logGroup:LogGroup"))
    found = find_adoptions(make(AWS, tmp_path), held, aws)
    assert found == {"cluster-logs": "/aws/eks/acme-notes/cluster"}
    with pytest.raises(KitError, match="log group /lima-kit/acme-notes/vpc-flow-logs: exists but is "
                                       "tagged lima-kit:stack=other"):
        find_adoptions(make(AWS, tmp_path), {}, aws)
