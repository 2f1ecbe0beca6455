"""`kit down` on a cluster: workloads first (the load balancer waited for), then the stack,
then the cloud's leak report (AWS: the Resource Groups Tagging API, moto in-process)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from kit.cluster.kube import Kube
from kit.cluster.target import ClusterTarget
from kit.errors import KitError
from kit.jsonio import write_json
from tests.cluster.fakes import FakeCore, FakeDynamic, fake_deps

moto = pytest.importorskip("moto")


def obj(kind: str, name: str, instance: str, api="v1", **spec) -> dict:
    return {"apiVersion": api, "kind": kind, "spec": spec,
            "metadata": {"name": name, "labels": {"app.kubernetes.io/instance": instance}}}


WORKLOADS = [
    obj("Service", "acme-notes-server", "acme-notes-server", type="LoadBalancer"),
    obj("Deployment", "acme-notes-server", "acme-notes-server", "apps/v1"),
    obj("Secret", "acme-notes-api-keys", "acme-notes-server"),
    obj("Job", "acme-notes-finetune", "acme-notes-finetune", "batch/v1"),
    obj("ConfigMap", "acme-notes-finetune-spec", "acme-notes-finetune"),
    obj("Service", "someone-else", "another-app", type="LoadBalancer"),
    obj("VolumeSnapshot", "acme-notes-model-ft-1", "acme-notes-stage", "snapshot.storage.k8s.io/v1"),
    obj("PersistentVolumeClaim", "acme-notes-stage-ft-2", "acme-notes-stage"),
]


class FakeInfra:
    def __init__(self, calls: list, outputs=None) -> None:
        self.calls = calls
        self.stored = outputs

    def outputs(self):
        self.calls.append(("outputs",))
        return self.stored

    def destroy(self, *, purge: bool) -> list[str]:
        self.calls.append(("destroy", purge))
        return [f"destroyed (purge={purge})"]


def target(cfg, dyn, leak_report=None):
    write_json(cfg.workdir.cluster_outputs, {
        "cloud": cfg.target, "cluster_name": "acme-notes", "namespace": "lima-kit",
        "artifacts_uri": "s3://acme-notes-artifacts-123456789012",
        "models_uri": "s3://acme-notes-models-123456789012"})
    cfg.workdir.kubeconfig.write_text("{}")
    return ClusterTarget(cfg, fake_deps(cfg, infra=lambda console: FakeInfra(dyn.calls),
                                        connect=lambda: Kube(dyn, FakeCore(), "lima-kit"),
                                        leak_report=leak_report))


def test_workloads_go_first_load_balancer_waited_for_then_destroy(k8s_cfg, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda _s: None)
    dyn = FakeDynamic(WORKLOADS, lb_linger=3)
    done = target(k8s_cfg, dyn).down(Console(file=io.StringIO()), purge=False)
    kinds = [c[:3] for c in dyn.calls]
    assert kinds == [
        ("delete", "Service", "acme-notes-server"),
        ("delete", "Deployment", "acme-notes-server"),
        ("delete", "Job", "acme-notes-finetune"),
        ("delete", "ConfigMap", "acme-notes-finetune-spec"),
        ("delete", "Secret", "acme-notes-api-keys"),
        ("delete", "VolumeSnapshot", "acme-notes-model-ft-1"),   # while its driver still runs
        ("delete", "PersistentVolumeClaim", "acme-notes-stage-ft-2"),
        ("destroy", False),
    ]
    assert dyn.calls[-1] == ("destroy", False)
    assert ("Service", "acme-notes-server") not in dyn.objects      # waited until gone
    assert ("Service", "someone-else") in dyn.objects               # not ours: untouched
    assert dict((c[1], c[3]) for c in dyn.calls if c[0] == "delete")["Job"] == "Foreground"
    assert done[0].startswith("deleted load balancer Service/acme-notes-server")
    assert not k8s_cfg.workdir.kubeconfig.exists()


def test_unreachable_existing_cluster_destroys_nothing(k8s_cfg):
    calls = []

    def unreachable():
        raise KitError("kubernetes: cannot reach the cluster API at https://10.0.0.1")

    t = ClusterTarget(k8s_cfg, fake_deps(k8s_cfg, infra=lambda console: FakeInfra(calls),
                                         connect=unreachable))
    with pytest.raises(KitError, match="nothing was destroyed"):
        t.down(Console(file=io.StringIO()), purge=False)
    assert calls == []


@moto.mock_aws
def test_leak_report_lists_what_is_still_tagged_and_how_to_remove_it(aws_cfg, monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="acme-notes-artifacts-123456789012")
    s3.put_bucket_tagging(Bucket="acme-notes-artifacts-123456789012",
                          Tagging={"TagSet": [{"Key": "lima-kit:stack", "Value": "acme-notes"}]})
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    sg = ec2.create_security_group(GroupName="k8s-elb-a1", Description="lb", VpcId=vpc)["GroupId"]
    ec2.create_tags(Resources=[sg], Tags=[{"Key": "kubernetes.io/cluster/acme-notes", "Value": "owned"}])
    other = ec2.create_security_group(GroupName="unrelated", Description="x", VpcId=vpc)["GroupId"]
    ec2.create_tags(Resources=[other], Tags=[{"Key": "lima-kit:stack", "Value": "another-deployment"}])

    dyn = FakeDynamic([])
    done = target(aws_cfg, dyn).down(Console(file=io.StringIO()), purge=False)
    text = "\n".join(done)
    assert dyn.calls == [("destroy", False)]
    assert "kept (your runs and mirrored weights" in text and "acme-notes-artifacts-123456789012" in text
    assert f"still exists[/]: arn:aws:ec2:us-east-1:123456789012:security-group/{sg}" in text
    assert f"aws ec2 delete-security-group --group-id {sg}" in text
    assert other not in text


def test_a_failing_leak_report_does_not_fail_the_teardown(aws_cfg):
    def broken(cfg, saved, purge):
        raise RuntimeError("tagging API down")

    dyn = FakeDynamic([])
    done = target(aws_cfg, dyn, leak_report=broken).down(Console(file=io.StringIO()), purge=False)
    assert dyn.calls == [("destroy", False)]
    assert any("could not list leftovers" in line and "tagging API down" in line for line in done)


def test_an_existing_cluster_has_no_leak_report(k8s_cfg):
    done = target(k8s_cfg, FakeDynamic([])).down(Console(file=io.StringIO()), purge=False)
    assert done == ["destroyed (purge=False)"]


def test_purge_refuses_when_the_data_lives_in_a_kit_bucket(aws_cfg):
    from tests.cluster.conftest import AWS, make

    cfg = make(AWS, aws_cfg.base_dir, data={"uri": "s3://acme-notes-artifacts-123456789012/sft/"})
    dyn = FakeDynamic(WORKLOADS)
    with pytest.raises(KitError, match="is in the kit's own storage s3://acme-notes-artifacts-123456789012"):
        target(cfg, dyn).down(Console(file=io.StringIO()), purge=True)
    assert dyn.calls == []                                    # nothing deleted, nothing destroyed


def test_purge_from_a_machine_without_saved_outputs_reads_the_stack_state(aws_cfg):
    """Another machine (or CI) ran `kit up`: this one has no .kit/<name>/cluster.json. The check
    reads the outputs recorded in the stack's state, and refuses before anything is deleted."""
    from stacks.contract import ClusterOutputs
    from tests.cluster.conftest import AWS, make

    cfg = make(AWS, aws_cfg.base_dir, data={"uri": "s3://renamed-artifacts-bucket/sft/"})
    stored = ClusterOutputs(cloud="aws", cluster_name="acme-notes", namespace="lima-kit",
                            artifacts_uri="s3://renamed-artifacts-bucket",
                            models_uri="s3://acme-notes-models-123456789012")
    dyn = FakeDynamic(WORKLOADS)
    t = ClusterTarget(cfg, fake_deps(cfg, infra=lambda console: FakeInfra(dyn.calls, stored),
                                     connect=lambda: Kube(dyn, FakeCore(), "lima-kit")))
    assert not cfg.workdir.cluster_outputs.exists()
    with pytest.raises(KitError, match="is in the kit's own storage s3://renamed-artifacts-bucket"):
        t.down(Console(file=io.StringIO()), purge=True)
    assert dyn.calls == [("outputs",)]                      # read the state; deleted nothing


def test_purge_without_any_outputs_still_knows_the_kits_bucket_names(aws_cfg):
    """No saved outputs and an empty state: the names the stack derives from kit.yaml alone
    (the same on every machine) still identify the kit's buckets."""
    from tests.cluster.conftest import AWS, make

    cfg = make(AWS, aws_cfg.base_dir, data={"uri": "s3://acme-notes-models-123456789012/sft/"},
               aws={"account_id": "123456789012"})
    dyn = FakeDynamic(WORKLOADS)
    t = ClusterTarget(cfg, fake_deps(cfg, infra=lambda console: FakeInfra(dyn.calls),
                                     connect=lambda: Kube(dyn, FakeCore(), "lima-kit")))
    with pytest.raises(KitError, match="is in the kit's own storage s3://acme-notes-models-123456789012"):
        t.down(Console(file=io.StringIO()), purge=True)
    assert [c for c in dyn.calls if c[0] != "outputs"] == []


def test_purge_with_data_elsewhere_goes_ahead(aws_cfg):
    dyn = FakeDynamic([])
    done = target(aws_cfg, dyn).down(Console(file=io.StringIO()), purge=True)
    assert dyn.calls[-1] == ("destroy", True)
    assert "destroyed (purge=True)" in done


def test_a_cluster_without_snapshots_is_torn_down_all_the_same(k8s_cfg, monkeypatch):
    """VolumeSnapshot is a CRD: a cluster without it has none to delete, and that is no error."""
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    class NoSnapshots(FakeDynamic):
        def get(self, res=None, name=None, api_version=None, kind=None, **kw):
            if kind == "VolumeSnapshot":
                raise ResourceNotFoundError("no VolumeSnapshot")
            return super().get(res, name=name, api_version=api_version, kind=kind, **kw)

    monkeypatch.setattr("time.sleep", lambda _s: None)
    dyn = NoSnapshots([w for w in WORKLOADS if w["kind"] != "VolumeSnapshot"], lb_linger=1)
    target(k8s_cfg, dyn).down(Console(file=io.StringIO()), purge=False)
    assert ("delete", "PersistentVolumeClaim", "acme-notes-stage-ft-2") in [c[:3] for c in dyn.calls]
    assert dyn.calls[-1] == ("destroy", False)
