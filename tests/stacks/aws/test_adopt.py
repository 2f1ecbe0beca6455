"""Adoption of kept resources in the program: with stack config `adopt`, the kit's buckets,
key and alias are registered with `import_` (the engine's importId), their inputs unchanged;
without it nothing is imported. Also the kit buckets' multipart-upload clean-up rule."""

from __future__ import annotations

import json

import pytest

from kit.errors import KitError
from kit.infra.plan import run_plan
from stacks.aws.mocks import ACCOUNT, AwsMocks
from stacks.aws.names import kit_bucket_name
from stacks.settings import stack_config
from tests.stacks.conftest import make_cfg

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
ADOPT = {"artifacts": kit_bucket_name("acme-notes", "artifacts", ACCOUNT),
         "models": kit_bucket_name("acme-notes", "models", ACCOUNT),
         "key": KEY_ID, "key-alias": "alias/lima-kit/acme-notes"}


class ImportMocks(AwsMocks):
    """AwsMocks that also keep each registration's import id (MockResourceArgs.resource_id
    carries RegisterResourceRequest.importId; "" when the resource is created)."""

    def __init__(self) -> None:
        super().__init__()
        self.imports: dict[tuple[str, str], str] = {}

    def new_resource(self, args):
        self.imports[(args.typ, args.name)] = args.resource_id or ""
        return super().new_resource(args)


def _run(adopt: dict[str, str]):
    """The plan, and the import id of each registered resource (reads such as the customer's
    data bucket, `Bucket.get`, also pass an id to the mocks: they are left out)."""
    mocks = ImportMocks()
    plan = run_plan(make_cfg(), mocks, adopt=adopt)
    registered = {(r["type"], r["name"]) for r in plan.resources if not r["read"]}
    return plan, {k: v for k, v in mocks.imports.items() if k in registered}


@pytest.fixture(scope="module")
def adopted():
    return _run(ADOPT)


def test_kept_buckets_key_and_alias_are_imported_by_their_ids(adopted):
    plan, imports = adopted
    assert imports[("aws:s3/bucket:Bucket", "artifacts")] == ADOPT["artifacts"]
    assert imports[("aws:s3/bucket:Bucket", "models")] == ADOPT["models"]
    assert imports[("aws:kms/key:Key", "key")] == KEY_ID
    assert imports[("aws:kms/alias:Alias", "key-alias")] == "alias/lima-kit/acme-notes"
    imported = {name for name, ident in imports.items() if ident}
    assert imported == {("aws:s3/bucket:Bucket", "artifacts"), ("aws:s3/bucket:Bucket", "models"),
                        ("aws:kms/key:Key", "key"), ("aws:kms/alias:Alias", "key-alias")}


def test_the_customer_data_bucket_is_still_only_read(adopted):
    plan, imports = adopted
    assert plan.one("aws:s3/bucket:Bucket", "data")["read"] is True
    assert ("aws:s3/bucket:Bucket", "data") not in imports


def test_imported_resources_declare_the_same_names_and_keep_their_protection(adopted):
    plan, _ = adopted
    for purpose in ("artifacts", "models"):
        bucket = plan.one("aws:s3/bucket:Bucket", purpose)
        assert bucket["inputs"]["bucket"] == ADOPT[purpose]      # inputs match what is imported
        assert bucket["inputs"]["forceDestroy"] is False and bucket["retain_on_delete"] is True
    alias = plan.one("aws:kms/alias:Alias", "key-alias")
    assert alias["inputs"]["name"] == ADOPT["key-alias"] and alias["retain_on_delete"] is True
    assert plan.one("aws:kms/key:Key", "key")["retain_on_delete"] is True


def test_only_the_kept_resources_named_in_adopt_are_imported():
    _, imports = _run({"models": ADOPT["models"]})
    assert {k: v for k, v in imports.items() if v} == {("aws:s3/bucket:Bucket", "models"): ADOPT["models"]}


def test_without_adopt_everything_is_created():
    _, imports = _run({})
    assert imports and not any(imports.values())


def test_an_unknown_adopt_name_is_refused():
    with pytest.raises(KitError, match="no adoptable resource named 'data'"):
        _run({"data": "acme-clinical-notes"})


def test_adopt_travels_as_json_in_the_stack_config():
    values = stack_config(make_cfg(), adopt={"key": KEY_ID})
    assert json.loads(values["lima-kit:adopt"]) == {"key": KEY_ID}
    assert json.loads(stack_config(make_cfg())["lima-kit:adopt"]) == {}


def test_kit_buckets_abort_incomplete_multipart_uploads_after_7_days(default_plan):
    rules_by_bucket = {r["inputs"]["bucket"]: r["inputs"]["rules"] for r in default_plan.of_type(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")}
    assert set(rules_by_bucket) == {ADOPT["artifacts"], ADOPT["models"]}
    for bucket, rules in rules_by_bucket.items():
        (abort,) = [r for r in rules if "abortIncompleteMultipartUpload" in r]
        assert abort["status"] == "Enabled", bucket
        assert abort["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
        assert abort["filter"] == {}                   # every object in the bucket
