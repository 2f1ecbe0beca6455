"""Buckets, keys, identity and the registry mirror on the mock plan: the kit's buckets locked
down and kept, the data bucket only read, grants on prefixes, no public or basic-role IAM,
Workload Identity bound to exactly the kit's service accounts, images through Artifact
Registry."""

from __future__ import annotations

import json

import pytest

from kit.errors import KitError
from stacks.gcp.names import kit_bucket_name
from tests.stacks.gcp.conftest import created, inputs, make_cfg, plan_of

BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_IAM = "gcp:storage/bucketIAMMember:BucketIAMMember"
KEY = "projects/acme-ml-prod/locations/us-central1/keyRings/lima-kit-acme-notes/cryptoKeys/kit"
IAM_TYPES = ("gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:projects/iAMMember:IAMMember",
             "gcp:serviceaccount/iAMMember:IAMMember", "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
             "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")


def _sa(logical: str) -> str:
    return f"serviceAccount:acme-notes-{logical}@acme-ml-prod.iam.gserviceaccount.com"


@pytest.mark.parametrize("purpose", ["artifacts", "models"])
def test_each_kit_bucket_is_locked_down_encrypted_versioned_and_kept(default_plan, purpose):
    bucket = default_plan.one(BUCKET, purpose)
    b = bucket["inputs"]
    assert b["name"] == kit_bucket_name("acme-notes", purpose, "acme-ml-prod")
    assert b["uniformBucketLevelAccess"] is True and b["publicAccessPrevention"] == "enforced"
    assert b["encryption"] == {
        "defaultKmsKeyName": KEY,
        "googleManagedEncryptionEnforcementConfig": {"restrictionMode": "FullyRestricted"},
        "customerSuppliedEncryptionEnforcementConfig": {"restrictionMode": "FullyRestricted"}}
    assert b["versioning"] == {"enabled": True}
    assert b["softDeletePolicy"]["retentionDurationSeconds"] >= 7 * 24 * 3600
    assert b["location"] == "US-CENTRAL1"
    assert bucket["retain_on_delete"] is True and b["forceDestroy"] is False


def test_purge_lets_the_buckets_key_and_logs_go():
    plan = plan_of(make_cfg(), purge=True)
    for purpose in ("artifacts", "models"):
        bucket = plan.one(BUCKET, purpose)
        assert bucket["retain_on_delete"] is False and bucket["inputs"]["forceDestroy"] is True
    assert plan.one("gcp:kms/cryptoKey:CryptoKey")["retain_on_delete"] is False
    assert plan.one("gcp:logging/projectBucketConfig:ProjectBucketConfig")["retain_on_delete"] is False
    assert plan.one("gcp:kms/keyRing:KeyRing")["retain_on_delete"] is True  # KMS never deletes rings


def test_key_rotates_and_outlives_a_plain_down(default_plan):
    key = default_plan.one("gcp:kms/cryptoKey:CryptoKey")
    assert key["retain_on_delete"] is True
    assert key["inputs"]["rotationPeriod"] == "7776000s" and key["inputs"]["purpose"] == "ENCRYPT_DECRYPT"


def test_the_key_serves_exactly_the_google_services_that_encrypt_for_the_kit(default_plan):
    grants = [r["inputs"] for r in default_plan.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")]
    assert {g["role"] for g in grants} == {"roles/cloudkms.cryptoKeyEncrypterDecrypter"}
    assert sorted(g["member"].split("@")[1] for g in grants) == sorted([
        "compute-system.iam.gserviceaccount.com", "container-engine-robot.iam.gserviceaccount.com",
        "gcp-sa-artifactregistry.iam.gserviceaccount.com", "gcp-sa-logging.iam.gserviceaccount.com",
        "gs-project-accounts.iam.gserviceaccount.com"])


def test_data_bucket_is_only_read(default_plan):
    data = [r for r in default_plan.of_type(BUCKET) if r["read"]]
    assert [(r["name"], r["id"]) for r in data] == [("data", "acme-clinical-notes")]
    assert "acme-clinical-notes" not in {r["inputs"].get("name") for r in created(default_plan, BUCKET)}


def test_no_iam_grant_to_the_public_or_a_basic_role(default_plan, egress_plan):
    for plan in (default_plan, egress_plan):
        grants = [r["inputs"] for t in IAM_TYPES for r in plan.of_type(t)]
        assert len(grants) > 10
        for g in grants:
            assert g["member"] not in ("allUsers", "allAuthenticatedUsers"), g
            assert g["role"] not in ("roles/owner", "roles/editor", "roles/viewer"), g


def _grants(plan) -> dict[str, dict]:
    return {r["name"]: r["inputs"] for r in plan.of_type(BUCKET_IAM)}


def test_trainer_and_server_get_exactly_their_buckets_and_prefixes(default_plan):
    g = _grants(default_plan)
    artifacts = kit_bucket_name("acme-notes", "artifacts", "acme-ml-prod")
    models = kit_bucket_name("acme-notes", "models", "acme-ml-prod")
    table = {name: (i["bucket"], i["role"], i["member"]) for name, i in g.items()}
    assert table == {
        "trainer-data": ("acme-clinical-notes", "roles/storage.objectViewer", _sa("trainer")),
        "trainer-models": (models, "roles/storage.objectViewer", _sa("trainer")),
        "trainer-runs": (artifacts, "roles/storage.objectCreator", _sa("trainer")),
        "trainer-runs-read": (artifacts, "roles/storage.objectViewer", _sa("trainer")),
        "server-models": (models, "roles/storage.objectViewer", _sa("server")),
        "server-runs": (artifacts, "roles/storage.objectViewer", _sa("server")),
    }
    data = g["trainer-data"]["condition"]["expression"]
    assert data == ('resource.name.startsWith("projects/_/buckets/acme-clinical-notes/objects/sft/") || '
                    '(resource.type == "storage.googleapis.com/Bucket" && api.getAttribute('
                    '"storage.googleapis.com/objectListPrefix", "").startsWith("sft/"))')
    assert f"/buckets/{artifacts}/objects/runs/" in g["trainer-runs"]["condition"]["expression"]
    assert f"/buckets/{artifacts}/objects/runs/" in g["server-runs"]["condition"]["expression"]
    assert "condition" not in g["server-models"]


def test_a_held_out_set_is_read_from_the_data_bucket_only():
    plan = plan_of(make_cfg(eval={"uri": "gs://acme-clinical-notes/held-out/"}))
    assert "objects/held-out/" in _grants(plan)["trainer-eval"]["condition"]["expression"]
    with pytest.raises(KitError, match="eval.uri: gs://elsewhere/x/ must be in the data bucket"):
        plan_of(make_cfg(eval={"uri": "gs://elsewhere/x/"}))


def test_workload_identity_binds_exactly_the_kits_service_accounts(default_plan):
    bindings = {r["name"]: r["inputs"] for r in default_plan.of_type("gcp:serviceaccount/iAMMember:IAMMember")}
    assert {n: (b["role"], b["member"]) for n, b in bindings.items()} == {
        "trainer-workload-identity": ("roles/iam.workloadIdentityUser",
                                      "serviceAccount:acme-ml-prod.svc.id.goog[lima-kit/acme-notes-finetune]"),
        "server-workload-identity": ("roles/iam.workloadIdentityUser",
                                     "serviceAccount:acme-ml-prod.svc.id.goog[lima-kit/acme-notes-server]"),
    }
    assert not default_plan.of_type("gcp:serviceaccount/key:Key")   # no key files
    # The pool <project>.svc.id.goog exists once the cluster does: each binding waits for it.
    cluster = default_plan.one("gcp:container/cluster:Cluster")["urn"]
    for name in bindings:
        assert cluster in default_plan.one("gcp:serviceaccount/iAMMember:IAMMember", name)["depends_on"]


def test_outputs_name_the_identities_and_the_restricted_vip(default_plan):
    out = default_plan.outputs
    assert out["trainer_sa_annotations"] == {
        "iam.gke.io/gcp-service-account": "acme-notes-trainer@acme-ml-prod.iam.gserviceaccount.com"}
    assert out["storage_cidrs"] == ["199.36.153.4/30"]
    assert out["bucket_owner"] == "123456789012"   # the project number GCS reports as owner
    assert out["registry_prefix"] == "us-central1-docker.pkg.dev/acme-ml-prod/acme-notes"


def test_one_standard_repository_encrypted_that_the_nodes_only_read(default_plan):
    """No remote repository: every upstream image is copied in at its locked digest
    (stacks/gcp/registry.py; tests/stacks/test_gcp_azure_images.py checks the paths)."""
    repos = {r["inputs"]["repositoryId"]: r["inputs"]
             for r in default_plan.of_type("gcp:artifactregistry/repository:Repository")}
    assert set(repos) == {"acme-notes"}
    repo = repos["acme-notes"]
    assert repo["mode"] == "STANDARD_REPOSITORY" and "remoteRepositoryConfig" not in repo
    assert repo["dockerConfig"] == {"immutableTags": True}
    assert repo["kmsKeyName"] == KEY and repo["format"] == "DOCKER"
    reads = [r["inputs"] for r in default_plan.of_type(
        "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")]
    assert [r["repository"] for r in reads] == ["acme-notes"]
    assert {(r["role"], r["member"]) for r in reads} == {("roles/artifactregistry.reader", _sa("nodes"))}


def test_audit_logs_go_to_a_kept_encrypted_log_bucket(default_plan):
    bucket = default_plan.one("gcp:logging/projectBucketConfig:ProjectBucketConfig")
    assert bucket["retain_on_delete"] is True
    assert bucket["inputs"]["cmekSettings"] == {"kmsKeyName": KEY}
    assert bucket["inputs"]["retentionDays"] == 2192
    sink = inputs(default_plan, "gcp:logging/projectSink:ProjectSink")
    assert sink["destination"].endswith("/locations/us-central1/buckets/lima-kit-acme-notes")
    assert 'resource.labels.cluster_name="acme-notes"' in sink["filter"]
    for kind in ("k8s_cluster", "k8s_control_plane_component", "gke_cluster", "k8s_container"):
        assert kind in sink["filter"]
    assert 'resource.labels.subnetwork_name="acme-notes-nodes"' in sink["filter"]


def test_a_prefix_an_iam_condition_cannot_carry_is_one_line():
    with pytest.raises(KitError) as err:
        plan_of(make_cfg(data={"uri": 'gs://acme-clinical-notes/a"b/'}))
    assert err.value.one_line().startswith("trainer-data: the prefix 'a\"b/' holds a quote")


def test_every_labelled_resource_carries_the_stack_label(default_plan):
    provider = default_plan.one("pulumi:providers:gcp")["inputs"]
    # Provider settings travel as JSON strings.
    assert json.loads(provider["defaultLabels"]) == {"lima-kit-stack": "acme-notes",
                                                     "lima-kit-managed-by": "pulumi"}
    assert provider["project"] == "acme-ml-prod" and provider["region"] == "us-central1"
    gcp_resources = [r for r in default_plan.resources if r["type"].startswith("gcp:")]
    assert {r["provider"].split("::")[-2] if r["provider"] else "" for r in gcp_resources} == {"gcp"}
