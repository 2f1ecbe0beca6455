"""Storage, identity, registry and tagging invariants, and the contract's outputs."""

from __future__ import annotations

import json

import pytest

from kit.layout.kube_names import service_accounts
from stacks.aws.common import STACK_TAG
from stacks.contract import ClusterOutputs
from tests.stacks.conftest import as_list, inputs, make_cfg, plan_of, policy_doc

KIT_BUCKETS = {"artifacts": "acme-notes-artifacts-123456789012",
               "models": "acme-notes-models-123456789012"}


def _by_bucket(plan, typ):
    return {r["inputs"]["bucket"]: r for r in plan.of_type(typ)}


@pytest.mark.parametrize("purpose", sorted(KIT_BUCKETS))
def test_each_kit_bucket_has_its_protections(default_plan, purpose):
    name = KIT_BUCKETS[purpose]
    bucket = default_plan.one("aws:s3/bucket:Bucket", purpose)
    assert bucket["inputs"]["bucket"] == name and bucket["inputs"]["forceDestroy"] is False
    assert bucket["retain_on_delete"] is True
    pab = _by_bucket(default_plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[name]
    assert {k: pab["inputs"][k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets")} == dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True)
    sse = _by_bucket(default_plan, "aws:s3/bucketServerSideEncryptionConfiguration:"
                                   "BucketServerSideEncryptionConfiguration")[name]
    (rule,) = sse["inputs"]["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
    versioning = _by_bucket(default_plan, "aws:s3/bucketVersioning:BucketVersioning")[name]
    assert versioning["inputs"]["versioningConfiguration"] == {"status": "Enabled"}
    owner = _by_bucket(default_plan, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")[name]
    assert owner["inputs"]["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    pol = _by_bucket(default_plan, "aws:s3/bucketPolicy:BucketPolicy")[name]
    tls = [st for st in policy_doc(pol["inputs"]["policy"]) if st["Sid"] == "DenyInsecureTransport"][0]
    assert tls["Effect"] == "Deny" and tls["Principal"] == "*"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(tls["Resource"]) == {f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"}
    for r in (pab, sse, versioning, owner, pol):
        assert r["retain_on_delete"] is True, r["type"]


def test_key_outlives_the_buckets_it_encrypts(default_plan):
    assert default_plan.one("aws:kms/key:Key")["retain_on_delete"] is True


def test_purge_lets_the_buckets_and_key_go():
    plan = plan_of(make_cfg(), purge=True)
    for purpose in KIT_BUCKETS:
        bucket = plan.one("aws:s3/bucket:Bucket", purpose)
        assert bucket["retain_on_delete"] is False and bucket["inputs"]["forceDestroy"] is True
    assert plan.one("aws:kms/key:Key")["retain_on_delete"] is False


def test_data_bucket_is_only_read(default_plan):
    data = [r for r in default_plan.of_type("aws:s3/bucket:Bucket") if r["read"]]
    assert [(r["name"], r["id"]) for r in data] == [("data", "acme-clinical-notes")]
    created = {r["inputs"].get("bucket") for r in default_plan.resources if not r["read"]}
    assert "acme-clinical-notes" not in created


def _statements(plan, role_name):
    pols = [r for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r["name"] == f"{role_name}-inline"]
    return [st for r in pols for st in policy_doc(r["inputs"]["policy"])]


def test_no_iam_statement_allows_everything_on_everything(default_plan):
    docs = [r["inputs"]["policy"] for r in default_plan.of_type("aws:iam/rolePolicy:RolePolicy")]
    docs += [r["inputs"]["assumeRolePolicy"] for r in default_plan.of_type("aws:iam/role:Role")]
    docs += [default_plan.one("aws:kms/key:Key")["inputs"]["policy"]]
    assert len(docs) > 10
    for doc in docs:
        for st in policy_doc(doc):
            actions = as_list(st["Action"])
            assert "*" not in actions and not any(a.endswith(":*") and st["Effect"] == "Allow"
                                                  and as_list(st.get("Resource", [])) == ["*"]
                                                  for a in actions), st


def test_node_role_has_no_storage_access(default_plan):
    attached = {r["inputs"]["policyArn"].rsplit("/", 1)[-1]
                for r in default_plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if r["name"].startswith("node-")}
    assert attached == {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy",
                        "AmazonEC2ContainerRegistryPullOnly"}
    for st in _statements(default_plan, "node"):
        assert all(not a.startswith("s3:") for a in as_list(st["Action"]))


def test_trainer_reads_the_data_prefix_and_writes_runs_only(default_plan):
    sts = {st["Sid"]: st for st in _statements(default_plan, "trainer")}
    assert sts["DataObjects"]["Action"] == ["s3:GetObject"]
    assert sts["DataObjects"]["Resource"] == ["arn:aws:s3:::acme-clinical-notes/sft/*"]
    assert sts["DataList"]["Condition"] == {"StringLike": {"s3:prefix": ["sft/", "sft/*"]}}
    writes = [st for st in sts.values() if st["Effect"] == "Allow" and any(
        a in ("s3:PutObject", "s3:DeleteObject") for a in as_list(st["Action"]))]
    assert [w["Resource"] for w in writes] == [[f"arn:aws:s3:::{KIT_BUCKETS['artifacts']}/runs/*"]]


def test_trainer_can_delete_nothing(default_plan):
    """No run can remove another run's objects: the trainer may not delete at all (a republish
    writes new names, kit.data.published; tests/stacks/aws/test_trainer_create_only.py)."""
    actions = {a for st in _statements(default_plan, "trainer") if st["Effect"] == "Allow"
               for a in as_list(st["Action"])}
    assert "s3:PutObject" in actions
    assert not any(a.startswith("s3:Delete") or a in ("s3:*", "s3:PutLifecycleConfiguration",
                                                       "s3:PutBucketVersioning") for a in actions)


def test_server_only_reads(default_plan):
    for st in _statements(default_plan, "server"):
        for action in as_list(st["Action"]):
            assert action in ("s3:GetObject", "s3:ListBucket", "kms:Decrypt", "kms:DescribeKey"), action
        assert not any("acme-clinical-notes" in res for res in as_list(st["Resource"]))


def test_pod_identity_binds_the_chart_service_accounts(default_plan):
    assoc = {r["inputs"]["serviceAccount"]: r["inputs"]
             for r in default_plan.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")}
    accounts = service_accounts("acme-notes")
    for logical in ("trainer", "server"):
        a = assoc[accounts[logical]]
        assert a["namespace"] == "lima-kit"
        assert a["roleArn"] == f"arn:aws:iam::123456789012:role/acme-notes-{logical}"
    trust = json.loads(inputs(default_plan, "aws:iam/role:Role", "trainer-role")["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}


def test_pod_identity_binds_the_accounts_the_charts_really_create():
    """The roles are bound to accounts by name (kit.layout.kube_names): the rendered charts must
    create exactly those, or the pods run without their cloud identity."""
    from kit.render import render_objects
    from tests.charts.chartkit import TEST_IMAGES

    cfg = make_cfg()
    bound = service_accounts(cfg.name)
    # Without volume snapshots the server reads the bucket; with them the stage Job does.
    for snapshots, reader in (("", "server"), ("csi-snapshots", "stage")):
        cluster = ClusterOutputs("aws", "c", artifacts_uri="s3://a-bucket", models_uri="s3://m-bucket",
                                 model_storage_class="gp3" if snapshots else "",
                                 model_snapshot_class=snapshots)
        created = {release: {o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount"}
                   for release, objects in render_objects(cfg, cluster, run_id="ft-1",
                                                          images=TEST_IMAGES).items()}
        assert created["finetune"] == {bound["trainer"]}
        assert created[reader] == {bound["server"]}, snapshots


def test_registry_has_a_repository_per_image_and_no_pull_through_cache(default_plan):
    """No pull-through cache: a first pull by digest does not fill it
    (github.com/aws/containers-roadmap/issues/2837, read 2026-12-07), and its ghcr.io / Docker
    Hub rules need credentials nobody fills. Every upstream image has its own repository."""
    repos = {r["inputs"]["name"]: r["inputs"] for r in default_plan.of_type("aws:ecr/repository:Repository")}
    assert set(repos) == {
        "acme-notes/trainer", "acme-notes/kit", "acme-notes/nvidia-device-plugin",
        "acme-notes/ghcr/huggingface/text-generation-inference",
        "acme-notes/docker-hub/vllm/vllm-openai", "acme-notes/docker-hub/nginxinc/nginx-unprivileged",
        "acme-notes/k8s/autoscaling/cluster-autoscaler",
        "acme-notes/docker-hub/library/python", "acme-notes/docker-hub/pytorch/pytorch"}
    for repo in repos.values():
        assert repo["imageTagMutability"] == "IMMUTABLE"
        assert repo["encryptionConfigurations"][0]["encryptionType"] == "KMS"
        assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert default_plan.of_type("aws:ecr/pullThroughCacheRule:PullThroughCacheRule") == []
    assert default_plan.of_type("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate") == []
    assert default_plan.of_type("aws:secretsmanager/secret:Secret") == []


def test_every_aws_resource_carries_the_stack_tag(default_plan):
    provider = default_plan.one("pulumi:providers:aws")
    assert json.loads(provider["inputs"]["defaultTags"])["tags"][STACK_TAG] == "acme-notes"
    assert provider["inputs"]["region"] == "us-east-1"
    prefix = default_plan.one("pulumi:providers:aws")["name"]
    aws_resources = [r for r in default_plan.resources if r["type"].startswith("aws:")]
    assert len(aws_resources) > 50
    for r in aws_resources:
        assert f"pulumi:providers:aws::{prefix}::" in r["provider"], (r["type"], r["name"])
    k8s = [r for r in default_plan.resources if r["type"].startswith("kubernetes:")]
    for r in k8s:
        assert "pulumi:providers:kubernetes::eks::" in r["provider"], r["name"]


def test_outputs_follow_the_contract(default_plan):
    out = default_plan.outputs
    fields = set(ClusterOutputs.__dataclass_fields__)
    assert set(out) == fields
    assert out["artifacts_uri"] == f"s3://{KIT_BUCKETS['artifacts']}"
    assert out["models_uri"] == f"s3://{KIT_BUCKETS['models']}"
    assert out["data_uri"] == "s3://acme-clinical-notes/sft/"
    assert out["registry_prefix"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-notes"
    assert out["private_cidrs"] == ["10.42.0.0/16"]
    assert out["cluster_name"] == "acme-notes" and out["cloud"] == "aws"
    assert out["internal_lb_annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"


def test_platform_layer_registers_the_rendered_objects(default_plan):
    from kit.render.platform import platform_objects
    from stacks.contract import ClusterOutputs as CO

    expected = platform_objects(make_cfg(), CO(cloud="aws", cluster_name="acme-notes"))
    registered = {(r["inputs"]["kind"], r["inputs"]["metadata"]["name"])
                  for r in default_plan.resources if r["type"].startswith("kubernetes:")}
    for obj in expected:
        assert (obj["kind"], obj["metadata"]["name"]) in registered
    ns = inputs(default_plan, "kubernetes:core/v1:Namespace")
    assert ns["metadata"]["name"] == "lima-kit"


def test_render_and_the_offline_plan_name_the_same_buckets_and_mirror(tmp_path):
    """What `kit render` derives before anything exists is what the stack will export."""
    from kit.infra.plan import offline_plan
    from kit.render import cluster_for

    cfg = make_cfg(aws={"account_id": "210987654321"})
    plan = offline_plan(cfg)
    rendered = cluster_for(cfg)
    for key in ("artifacts_uri", "models_uri", "registry_prefix", "cluster_name",
                "internal_lb_annotations", "data_uri"):
        assert plan.outputs[key] == getattr(rendered, key), key
    assert plan.outputs["artifacts_uri"] == "s3://acme-notes-artifacts-210987654321"
    assert plan.placeholders == "resource ids are placeholders"     # the account is the real one


def test_credentials_of_another_account_are_refused():
    from kit.errors import KitError
    from kit.infra.plan import run_plan
    from stacks.aws.mocks import AwsMocks

    cfg = make_cfg(aws={"account_id": "210987654321"})
    with pytest.raises(KitError, match=r"aws\.account_id: 210987654321, but the credentials in "
                                       r"use are for account 111111111111"):
        run_plan(cfg, AwsMocks(account="111111111111"))


def test_the_audit_trail_outlives_a_plain_down_for_the_retention_period(default_plan):
    groups = {r["name"]: r for r in default_plan.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert set(groups) == {"cluster-logs", "flow-logs", "builder-logs"}
    for group in groups.values():
        assert group["retain_on_delete"] is True
        assert group["inputs"]["retentionInDays"] == 2192          # six years
        assert group["inputs"]["kmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/key"
    assert groups["cluster-logs"]["inputs"]["name"] == "/aws/eks/acme-notes/cluster"


def test_purge_deletes_the_audit_trail_and_retention_follows_kit_yaml():
    purged = plan_of(purge=True)
    assert all(not r["retain_on_delete"] for r in purged.of_type("aws:cloudwatch/logGroup:LogGroup"))
    short = plan_of(make_cfg(logs={"retention_days": 365}))
    assert {r["inputs"]["retentionInDays"] for r in short.of_type("aws:cloudwatch/logGroup:LogGroup")} == {365}


def test_a_retention_logs_cannot_have_is_one_line():
    from kit.errors import KitError

    with pytest.raises(KitError, match=r"logs\.retention_days: 2000 is not a retention period logs can "
                                       r"have \(nearest: 1827"):
        make_cfg(logs={"retention_days": 2000})


def test_workload_roles_trust_only_this_clusters_pod_identity(default_plan):
    for name in ("trainer-role", "server-role"):
        (stmt,) = json.loads(inputs(default_plan, "aws:iam/role:Role", name)["assumeRolePolicy"])["Statement"]
        assert stmt["Condition"] == {
            "StringEquals": {"aws:SourceAccount": "123456789012"},
            "ArnEquals": {"aws:SourceArn": "arn:aws:eks:us-east-1:123456789012:cluster/acme-notes"}}


def test_workloads_use_the_key_only_through_s3_and_never_to_encrypt_their_own_data(default_plan):
    via = {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    for name, actions in (("trainer-inline", ["kms:Decrypt", "kms:GenerateDataKey"]),
                          ("server-inline", ["kms:Decrypt"])):
        stmts = policy_doc(inputs(default_plan, "aws:iam/rolePolicy:RolePolicy", name)["policy"])
        kms = [s for s in stmts if any(a.startswith("kms:") for a in as_list(s["Action"]))]
        assert [(s["Action"], s["Condition"]) for s in kms] == [(actions, via)]


def test_kit_buckets_refuse_uploads_under_any_other_key(default_plan):
    stmts = {s["Sid"]: s for s in policy_doc(inputs(default_plan, "aws:s3/bucketPolicy:BucketPolicy",
                                                     "artifacts-policy")["policy"])}
    key = "arn:aws:kms:us-east-1:123456789012:key/key"
    sse, sse_key = "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id"
    assert stmts["DenyOtherKeys"]["Condition"] == {"StringNotEquals": {sse_key: key}, "Null": {sse_key: "false"}}
    assert stmts["DenyOtherEncryption"]["Condition"] == {"StringNotEquals": {sse: "aws:kms"}, "Null": {sse: "false"}}
    assert stmts["DenyManagedKey"]["Condition"] == {"StringEquals": {sse: "aws:kms"}, "Null": {sse_key: "true"}}
    assert all(stmts[s]["Effect"] == "Deny" and stmts[s]["Action"] == ["s3:PutObject"]
               for s in ("DenyOtherKeys", "DenyOtherEncryption", "DenyManagedKey"))


def test_a_fixed_held_out_set_is_read_from_the_data_bucket_only():
    from kit.errors import KitError

    plan = plan_of(make_cfg(eval={"uri": "s3://acme-clinical-notes/held-out/"}))
    sts = {st["Sid"]: st for st in _statements(plan, "trainer")}
    assert sts["EvalObjects"]["Resource"] == ["arn:aws:s3:::acme-clinical-notes/held-out/*"]
    assert sts["EvalObjects"]["Action"] == ["s3:GetObject"]
    with pytest.raises(KitError, match=r"eval.uri: s3://elsewhere/held/ must be in the data bucket"):
        plan_of(make_cfg(eval={"uri": "s3://elsewhere/held/"}))
