"""`kit prices update` on GCP. Google publishes Compute Engine prices machine-readably only
through the Cloud Billing Catalog API (https://cloud.google.com/billing/docs/reference/rest/
v1/services.skus/list, read 2026-12-07), which needs an API key or OAuth credentials even for
list prices, and prices an accelerator-optimized machine as separate vCPU, memory, GPU and
Local SSD SKUs. The kit ships a dated catalog instead (stacks/gcp/prices.json)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kit.errors import KitError

if TYPE_CHECKING:
    from kit.config import KitConfig


def fetch(cfg: "KitConfig", instance_types: list[str]) -> dict[str, Any]:
    raise KitError("gcp prices: Google's Cloud Billing Catalog API needs an API key or credentials; "
                   "the kit does not refresh GCP prices itself",
                   hint="estimates use the shipped catalog (stacks/gcp/prices.json, its date is shown); "
                        "or set gpu.usd_per_hour from https://cloud.google.com/compute/vm-instance-pricing")
