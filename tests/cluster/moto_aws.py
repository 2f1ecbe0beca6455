"""Names for the moto tests (the `aws` fixture in conftest.py): one account, one region, the
names the stack gives the kit's buckets and key alias for the `acme-notes` deployment."""

from __future__ import annotations

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
ARTIFACTS = f"acme-notes-artifacts-{ACCOUNT}"
MODELS = f"acme-notes-models-{ACCOUNT}"
ALIAS = "alias/lima-kit/acme-notes"
