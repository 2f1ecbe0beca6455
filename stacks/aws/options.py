"""kit.yaml's `aws:` section: the one declaration of every AWS option. The stack reads it
from the validated kit.yaml it receives; nothing else restates it."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class AwsOptions(BaseModel):
    """AWS-only options. Defaults: a new private VPC the kit creates and owns."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    # The account the stack deploys into. Optional, but when set `kit up` refuses credentials
    # of another account, and `kit render` / `kit plan --offline` name the real buckets.
    account_id: str | None = Field(default=None, pattern=r"^\d{12}$")
    vpc_id: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    subnet_ids: list[str] = Field(default_factory=list)
    vpc_cidr: str = "10.42.0.0/16"
    az_count: int = Field(default=3, ge=2, le=3)
    vpc_endpoints: bool = True
    kubernetes_version: str = Field(default="1.33", pattern=r"^1\.\d{2}$")
    operator_role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    data_kms_key_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:kms:.+$")
    # GPU capacity the GPU pool launches into, as gcp.reservation: an On-Demand Capacity
    # Reservation's id, or a Capacity Block's (capacity_block: true) (both cr-<17 hex>).
    capacity_reservation: str | None = None
    capacity_block: bool = False
    # The reservation's availability zone: the GPU pool launches only into subnets there.
    capacity_reservation_zone: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")

    @field_validator("account_id", mode="before")
    @classmethod
    def _account_as_text(cls, value: object) -> object:
        """YAML reads an unquoted account id as a number; it is an id, not a quantity."""
        return str(value).zfill(12) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("capacity_reservation")
    @classmethod
    def _reservation_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"cr-[0-9a-f]{17}", value):
            raise ValueError(f"{value!r} is not a capacity reservation id: cr- and 17 hex digits, "
                             "e.g. cr-0123456789abcdef0 (aws ec2 describe-capacity-reservations)")
        return value

    @model_validator(mode="after")
    def _existing_vpc(self) -> "AwsOptions":
        if self.capacity_block and not self.capacity_reservation:
            raise ValueError("aws.capacity_block: true needs aws.capacity_reservation, the "
                             "Capacity Block's id (cr-...)")
        if bool(self.capacity_reservation) != bool(self.capacity_reservation_zone):
            raise ValueError("aws.capacity_reservation and aws.capacity_reservation_zone go "
                             "together: the reservation's id and its availability zone (aws ec2 "
                             "describe-capacity-reservations; `kit doctor` shows both)")
        if bool(self.vpc_id) != bool(self.subnet_ids):
            raise ValueError("aws.vpc_id: an existing VPC needs both vpc_id and subnet_ids")
        if self.vpc_id and len(self.subnet_ids) < 2:
            raise ValueError("aws.subnet_ids: an existing VPC needs at least 2 private subnets "
                             "in different availability zones")
        return self
