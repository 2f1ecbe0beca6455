"""The AWS trainer cannot replace an object under runs/ (issue 24): S3 replaces on a plain
PutObject, so its policy denies every object-creating write (PutObject, CompleteMultipartUpload)
that lacks If-None-Match, the documented pattern of
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html (read
2026-12-07). The kit's uploads send it (kit/data/stores/s3.py; tests/data/test_create_only.py
proves a publish needs no overwrite)."""

from __future__ import annotations

from tests.stacks.conftest import as_list
from tests.stacks.test_storage_identity import KIT_BUCKETS, _statements


def test_trainer_writes_under_runs_only_with_if_none_match(default_plan):
    runs = f"arn:aws:s3:::{KIT_BUCKETS['artifacts']}/runs/*"
    denies = [st for st in _statements(default_plan, "trainer") if st["Effect"] == "Deny"]
    assert [(as_list(st["Action"]), as_list(st["Resource"]), st["Condition"]) for st in denies] == [
        (["s3:PutObject"], [runs], {"Null": {"s3:if-none-match": "true"},
                                    "Bool": {"s3:ObjectCreationOperation": "true"}})]
    allowed = {a for st in _statements(default_plan, "trainer") if st["Effect"] == "Allow"
               for a in as_list(st["Action"])}
    assert not any(a.startswith("s3:Delete") for a in allowed)
