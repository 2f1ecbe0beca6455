"""`kit down --purge` after a plain `kit down`: the stack's state is empty, so the kept buckets
and key are found (same tag check as adoption) and deleted directly with boto3 against moto's
in-process AWS, never through a purge `up` that would rebuild the cluster first."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from kit.errors import KitError
from kit.infra.driver import holds_resources
from stacks.aws.kept import STACK_TAG, purge
from stacks.aws.names import KIT_BUCKETS
from stacks.clouds import cloud_support
from tests.cluster.conftest import AWS, K8S, make
from tests.cluster.fakes import FakeStack, fake_access
from tests.cluster.moto_aws import ACCOUNT, ALIAS, ARTIFACTS, MODELS

moto = pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")

DATA = "acme-clinical-notes"  # conftest's AWS data.uri: s3://acme-clinical-notes/sft/
OURS = {STACK_TAG: "acme-notes", "lima-kit:managed-by": "pulumi"}


def versioned_bucket(aws, name: str, tags: dict[str, str] | None, objects: int = 3) -> None:
    """A versioned bucket: each key written twice, and one key deleted (a delete marker)."""
    s3 = aws("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if tags is not None:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [
            {"Key": k, "Value": v} for k, v in tags.items()]})
    for i in range(objects):
        for body in (b"one", b"two"):
            s3.put_object(Bucket=name, Key=f"runs/{i}.json", Body=body)
    s3.delete_object(Bucket=name, Key="runs/0.json")


def kit_key(aws, tags: dict[str, str]) -> str:
    kms = aws("kms")
    key_id = kms.create_key(Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()])[
        "KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=ALIAS, TargetKeyId=key_id)
    return key_id


def buckets(aws) -> set[str]:
    return {b["Name"] for b in aws("s3").list_buckets()["Buckets"]}


def versions(aws, name: str) -> int:
    page = aws("s3").list_object_versions(Bucket=name)
    return len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))


def aliases(aws) -> set[str]:
    return {a["AliasName"] for a in aws("kms").list_aliases()["Aliases"]}


def key_state(aws, key_id: str) -> str:
    return aws("kms").describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


def test_kept_buckets_are_emptied_and_deleted_and_the_key_scheduled(aws, tmp_path):
    versioned_bucket(aws, ARTIFACTS, OURS)
    versioned_bucket(aws, MODELS, OURS, objects=2)
    versioned_bucket(aws, DATA, OURS)          # even tagged, the customer's data is not the kit's
    key_id = kit_key(aws, OURS)
    done = purge(make(AWS, tmp_path))
    assert buckets(aws) == {DATA} and versions(aws, DATA) == 7
    assert key_state(aws, key_id) == "PendingDeletion"
    assert ALIAS not in aliases(aws)
    assert done[0] == f"deleted bucket s3://{ARTIFACTS} (7 object version(s) and delete marker(s))"
    assert done[1] == f"deleted bucket s3://{MODELS} (5 object version(s) and delete marker(s))"
    assert done[2].startswith(f"scheduled kms key {key_id} for deletion on ")
    assert f"cancel-key-deletion --key-id {key_id}" in done[2]
    assert done[3] == f"deleted kms alias {ALIAS}"
    assert DATA not in {f"acme-notes-{p}-{ACCOUNT}" for p in KIT_BUCKETS}


def test_a_bucket_with_more_versions_than_a_page_is_emptied(aws, tmp_path):
    versioned_bucket(aws, MODELS, OURS, objects=520)   # 1040 versions + 1 marker: 2 pages
    assert purge(make(AWS, tmp_path)) == [
        f"deleted bucket s3://{MODELS} (1041 object version(s) and delete marker(s))"]
    assert MODELS not in buckets(aws)


def test_an_untagged_same_named_bucket_is_refused_and_nothing_is_deleted(aws, tmp_path):
    versioned_bucket(aws, ARTIFACTS, {"team": "data"})
    versioned_bucket(aws, MODELS, OURS)
    key_id = kit_key(aws, OURS)
    with pytest.raises(KitError) as err:
        purge(make(AWS, tmp_path))
    assert err.value.message.startswith(f"s3://{ARTIFACTS}: exists but is not tagged {STACK_TAG}")
    assert buckets(aws) == {ARTIFACTS, MODELS}
    assert versions(aws, ARTIFACTS) == 7 and versions(aws, MODELS) == 7
    assert key_state(aws, key_id) == "Enabled" and ALIAS in aliases(aws)


def test_a_key_alias_of_another_stack_is_refused_and_nothing_is_deleted(aws, tmp_path):
    versioned_bucket(aws, MODELS, OURS)
    key_id = kit_key(aws, {STACK_TAG: "acme-billing"})
    with pytest.raises(KitError, match=f"tagged {STACK_TAG}=acme-billing"):
        purge(make(AWS, tmp_path))
    assert buckets(aws) == {MODELS} and key_state(aws, key_id) == "Enabled"


def test_a_key_already_scheduled_only_loses_its_alias(aws, tmp_path):
    key_id = kit_key(aws, OURS)
    aws("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    done = purge(make(AWS, tmp_path))
    assert done[0].startswith(f"kms key {key_id} was already scheduled for deletion")
    assert done[1] == f"deleted kms alias {ALIAS}" and ALIAS not in aliases(aws)


def test_nothing_kept_deletes_nothing(aws, tmp_path):
    versioned_bucket(aws, DATA, None)
    assert purge(make(AWS, tmp_path)) == []
    assert buckets(aws) == {DATA}


def test_data_kept_in_a_kit_bucket_stops_the_purge(aws, tmp_path):
    versioned_bucket(aws, ARTIFACTS, OURS)
    cfg = make(AWS, tmp_path, data={"uri": f"s3://{ARTIFACTS}/sft/"})
    with pytest.raises(KitError, match="holds this deployment's data"):
        purge(cfg)
    assert versions(aws, ARTIFACTS) == 7


def test_other_targets_keep_nothing_on_aws(tmp_path):
    assert cloud_support("kubernetes").purge_kept(make(K8S, tmp_path)) == []


def test_holds_resources_ignores_the_root_stack_and_providers():
    root = {"type": "pulumi:pulumi:Stack", "urn": "urn:pulumi:acme-notes::lima-kit::pulumi:pulumi:Stack::x"}
    provider = {"type": "pulumi:providers:aws", "urn": "urn:...::pulumi:providers:aws::default"}
    assert not holds_resources({}) and not holds_resources({"resources": [root, provider]})
    assert holds_resources({"resources": [root, {"type": "aws:eks/cluster:Cluster"}]})


# --- the driver: no purge `up` when the state is empty ---------------------------------------

def StateStack(log: list, resources: list[dict]) -> FakeStack:  # noqa: N802 (reads as a class)
    """A FakeStack whose exported state holds exactly `resources`."""
    return FakeStack(log, resources=resources)


def driver(cfg, stack, purged: list):
    from kit.infra.driver import Infra

    pytest.importorskip("pulumi.automation")

    def purger(c):
        purged.append(c.name)
        return [f"deleted bucket s3://{ARTIFACTS} (7 object version(s) and delete marker(s))"]

    return Infra(cfg, Console(file=io.StringIO()), fake_access(cfg, stack, purge_kept=purger))


def test_purge_of_an_empty_stack_runs_no_up_and_removes_the_stack(aws_cfg):
    log: list = []
    purged: list = []
    done = driver(aws_cfg, StateStack(log, []), purged).destroy(purge=True)
    assert log == [("config", "true"), ("remove_stack", "acme-notes")]
    assert purged == ["acme-notes"]
    assert done == [f"deleted bucket s3://{ARTIFACTS} (7 object version(s) and delete marker(s))",
                    f"removed stack acme-notes from {aws_cfg.state_url}"]


def test_purge_of_a_root_only_stack_destroys_the_root_without_up(aws_cfg):
    log: list = []
    root = [{"type": "pulumi:pulumi:Stack", "urn": "urn:pulumi:acme-notes::lima-kit::pulumi:pulumi:Stack::x"}]
    driver(aws_cfg, StateStack(log, root), []).destroy(purge=True)
    assert log == [("config", "true"), ("destroy", "true"), ("remove_stack", "acme-notes")]


def test_purge_with_nothing_kept_says_so(aws_cfg):
    from kit.infra.driver import Infra

    log: list = []
    infra = Infra(aws_cfg, Console(file=io.StringIO()), fake_access(aws_cfg, StateStack(log, [])))
    done = infra.destroy(purge=True)
    assert done[0] == "nothing kept by an earlier `kit down` of acme-notes"
    assert ("remove_stack", "acme-notes") in log and not any(e[0] == "up" for e in log)


def test_purge_of_a_live_stack_keeps_up_then_destroy(aws_cfg):
    log: list = []
    purged: list = []
    live = [{"type": "aws:eks/cluster:Cluster",
             "urn": "urn:pulumi:acme-notes::lima-kit::aws:eks/cluster:Cluster::cluster"}]
    done = driver(aws_cfg, StateStack(log, live), purged).destroy(purge=True)
    assert log == [("config", "true"), ("up", "true"), ("destroy", "true"), ("remove_stack", "acme-notes")]
    assert purged == [] and any("41 resource(s) deleted" in line for line in done)


def test_plain_down_never_purges(aws_cfg):
    log: list = []
    purged: list = []
    driver(aws_cfg, StateStack(log, []), purged).destroy(purge=False)
    assert log == [("config", "false"), ("destroy", "false")] and purged == []


def test_a_version_that_cannot_be_deleted_stops_with_one_line(tmp_path):
    from stacks.aws.kept import purge_kept

    class LockedS3:
        def list_object_versions(self, **_kw):
            return {"Versions": [{"Key": "runs/0.json", "VersionId": "v1"}]}

        def delete_objects(self, **_kw):
            return {"Errors": [{"Key": "runs/0.json", "Code": "AccessDenied", "Message": "object lock"}]}

        def delete_bucket(self, **_kw):
            pytest.fail("deleted a bucket that is not empty")

    with pytest.raises(KitError) as err:
        purge_kept(make(AWS, tmp_path), {"artifacts": ARTIFACTS}, lambda service: LockedS3())
    assert err.value.message == (f"s3://{ARTIFACTS}/runs/0.json: cannot delete (AccessDenied: "
                                 "object lock); 1 object version(s) left")
