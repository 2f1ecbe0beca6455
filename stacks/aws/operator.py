"""How the operator's machine reaches an AWS stack during `kit up` (no SDK imported).

EKS: the API server's public endpoint is on only for network.operator_cidrs (stacks/aws/
cluster.py), otherwise private to the VPC, which the run that creates it gives the operator no
route into. ECR, S3 and KMS are regional AWS APIs authorised by IAM (and the kit's bucket and
key policies) from any address: no network rule of the kit's stands between them and the
operator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stacks.clouds import OPERATOR_CIDRS_FIX, Reach, cidrs_source

if TYPE_CHECKING:
    from kit.config import KitConfig


def reach(cfg: "KitConfig") -> list[Reach]:
    cidrs = bool(cfg.network.operator_cidrs)
    return [
        Reach("API server", f"EKS public endpoint, {cidrs_source(cfg)}", cidrs,
              fix=OPERATOR_CIDRS_FIX),
        Reach("registry", "ECR API, any address, authorised by IAM", True),
        Reach("the kit's storage", "S3 API, any address, authorised by IAM and the bucket policies", True),
        Reach("key", "KMS API, any address, authorised by IAM and the key policy", True,
              needed=False),
    ]
