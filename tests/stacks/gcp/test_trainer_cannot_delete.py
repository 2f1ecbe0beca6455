"""The trainer can delete nothing on GCP (issue 24): on the artifacts bucket its roles add up to
create, get and list under runs/, with no storage.objects.delete (which Cloud Storage also
requires to replace an object) and no storage.objects.update. Its uploads never need either:
kit.data.published writes create-only (tests/data/test_create_only.py)."""

from __future__ import annotations

from stacks.gcp.names import kit_bucket_name

BUCKET_IAM = "gcp:storage/bucketIAMMember:BucketIAMMember"
TRAINER = "serviceAccount:acme-notes-trainer@acme-ml-prod.iam.gserviceaccount.com"

# The storage.objects.* permissions of Cloud Storage's predefined roles, from
# https://cloud.google.com/storage/docs/access-control/iam-roles (read 2026-12-07).
OBJECT_PERMISSIONS = {
    "roles/storage.objectCreator": {"storage.objects.create"},
    "roles/storage.objectViewer": {"storage.objects.get", "storage.objects.list"},
    "roles/storage.objectUser": {"storage.objects.create", "storage.objects.delete",
                                 "storage.objects.get", "storage.objects.list",
                                 "storage.objects.update"},
    "roles/storage.objectAdmin": {"storage.objects.create", "storage.objects.delete",
                                  "storage.objects.get", "storage.objects.list",
                                  "storage.objects.update", "storage.objects.getIamPolicy",
                                  "storage.objects.setIamPolicy"},
}


def test_the_trainer_may_create_and_read_runs_but_never_delete_or_replace(default_plan):
    artifacts = kit_bucket_name("acme-notes", "artifacts", "acme-ml-prod")
    grants = [r["inputs"] for r in default_plan.of_type(BUCKET_IAM)
              if r["inputs"]["member"] == TRAINER and r["inputs"]["bucket"] == artifacts]
    assert grants
    held: set[str] = set()
    for g in grants:
        assert g["role"] in OBJECT_PERMISSIONS, f"unknown role {g['role']}: add its permissions"
        held |= OBJECT_PERMISSIONS[g["role"]]
        # every grant keeps the runs/ prefix condition
        assert f"/buckets/{artifacts}/objects/runs/" in g["condition"]["expression"]
        assert '"storage.googleapis.com/objectListPrefix", "").startsWith("runs/")' in \
            g["condition"]["expression"]
    assert held == {"storage.objects.create", "storage.objects.get", "storage.objects.list"}
    assert "storage.objects.delete" not in held and "storage.objects.update" not in held


def test_parts_the_trainer_cannot_delete_are_removed_by_the_bucket(default_plan):
    """Composite-upload parts (kit/data/stores/gcs.py) stay when the trainer may not delete
    them; the artifacts bucket's lifecycle deletes them, live and then noncurrent."""
    from kit.data.stores.gcs import PART_SUFFIX

    rules = default_plan.one("gcp:storage/bucket:Bucket", "artifacts")["inputs"]["lifecycleRules"]
    deleting = [r["condition"] for r in rules if r["action"]["type"] == "Delete"
                and PART_SUFFIX in r["condition"].get("matchesSuffixes", [])]
    assert any(c.get("age") for c in deleting)
    assert any(c.get("daysSinceNoncurrentTime") for c in deleting)
