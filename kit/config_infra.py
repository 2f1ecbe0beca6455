"""kit.yaml's infrastructure sections: network, kubernetes, storage, logs. Where the kit runs
and what it may reach; kit.config assembles them with the model, data and training sections."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


_CIDR = re.compile(r"^(\d{1,3}\.){3}\d{1,3}/\d{1,2}$")


def ipv4_cidrs(value: list[str]) -> list:
    import ipaddress

    nets = []
    for cidr in value:
        if not _CIDR.match(cidr):
            raise ValueError(f"{cidr!r} is not an IPv4 CIDR like 203.0.113.0/24")
        net = ipaddress.ip_network(cidr, strict=False)
        if net.prefixlen == 0:
            raise ValueError(f"{cidr!r} opens it to the whole internet")
        nets.append(net)
    return nets


# The widest public range the cluster API may be opened to, and the most public addresses in
# all: an office or VPN egress is a handful of addresses, never a sizeable share of the internet.
OPERATOR_PREFIX_MIN = 16
OPERATOR_PUBLIC_MAX = 1 << 16


class NetworkConfig(Section):
    egress: bool = False
    operator_cidrs: list[str] = Field(default_factory=list)

    @field_validator("operator_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        import ipaddress

        public = [n for n in ipv4_cidrs(value) if not n.is_private]
        wide = [str(n) for n in public if n.prefixlen < OPERATOR_PREFIX_MIN]
        if wide:
            raise ValueError(f"{', '.join(wide)}: public ranges wider than /{OPERATOR_PREFIX_MIN} "
                             "would open the cluster API to much of the internet; list your "
                             "operators' own addresses")
        total = sum(n.num_addresses for n in ipaddress.collapse_addresses(public))
        if total > OPERATOR_PUBLIC_MAX:
            raise ValueError(f"{total:,} public addresses in all (more than "
                             f"{OPERATOR_PUBLIC_MAX:,}): list your operators' own addresses")
        return value


SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "default")


class KubernetesConfig(Section):
    context: str | None = None
    namespace: str = Field(default="lima-kit", max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    # Where the trainer and init containers may reach object storage (HTTPS) on an existing
    # cluster. Empty: no storage egress unless network.egress is true.
    storage_cidrs: list[str] = Field(default_factory=list)
    # Block storage with CSI snapshots on this cluster: set both and the server's model is
    # staged once per run by a Job and restored per replica from a VolumeSnapshot, so the
    # server's pod reads no bucket and has no storage egress. Unset: the server's pod stages
    # the model itself (an init container), sharing that access with the engine.
    storage_class: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    snapshot_class: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

    @model_validator(mode="after")
    def _both_or_neither(self) -> "KubernetesConfig":
        if bool(self.storage_class) != bool(self.snapshot_class):
            missing = "snapshot_class" if self.storage_class else "storage_class"
            raise ValueError(f"{missing} is needed too: the model is staged on a volume of "
                             "storage_class and snapshotted with snapshot_class (their CSI "
                             "driver must be the same)")
        return self

    @field_validator("storage_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        ipv4_cidrs(value)
        return value

    @field_validator("namespace")
    @classmethod
    def _not_a_system_namespace(cls, value: str) -> str:
        if value in SYSTEM_NAMESPACES:
            raise ValueError(f"{value!r} is a system namespace: the kit's namespace enforces Pod "
                             "Security restricted and is deleted by `kit down`; choose another name")
        return value


class StorageConfig(Section):
    """Where the kit keeps what it makes on a cluster it did not create: fine-tuned weights
    and runs (PHI-derived) and mirrored base weights. Buckets you own and chose; the kit never
    guesses a name someone else could hold. A cloud stack makes its own (leave these unset)."""

    artifacts_uri: str | None = None
    models_uri: str | None = None
    # The account that must own both buckets: S3 refuses any call on a bucket of that name
    # held by another account (the expected-bucket-owner check).
    bucket_owner: str | None = None

    @field_validator("artifacts_uri", "models_uri")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from kit.data.storage import BUCKET_FORMS, bucket_scheme

        if not bucket_scheme(value):
            raise ValueError(f"{value!r} is not a bucket URI ({BUCKET_FORMS})")
        return value.rstrip("/")

    @field_validator("bucket_owner", mode="before")
    @classmethod
    def _owner_as_text(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError("quote it: YAML reads a bare number, dropping leading zeros")
        return value

    @field_validator("bucket_owner")
    @classmethod
    def _owner(cls, value: str | None, info: ValidationInfo) -> str | None:
        """The owner is checked wherever the storage can: by S3 on every call, by the kit on
        GCS (the bucket's project number) before any object call."""
        if value is None:
            return value
        from kit.data.storage import BACKENDS, bucket_scheme

        for uri in (info.data.get("artifacts_uri"), info.data.get("models_uri")):
            if uri is None:
                continue
            form = BACKENDS[bucket_scheme(uri) or "file"].owner_form
            if form is None:
                raise ValueError(f"{uri} has no owner the kit can check (an Azure account is "
                                 "named in the URI and takes tokens of its own tenant only); "
                                 "leave bucket_owner unset for this storage")
            if not re.fullmatch(form, value):
                raise ValueError(f"{value!r} is not an owner of {uri} (expected the pattern "
                                 f"{form}: a 12-digit AWS account, a GCP project number)")
        return value

    def problems(self, target: str, *, creates_cluster: bool) -> list[str]:
        """The kit's buckets on a cluster target, one line per rule broken: a stack that makes
        the cluster makes them too; on a cluster of yours they are yours to name, with their
        owner."""
        problems = []
        for key in ("artifacts_uri", "models_uri"):
            given = getattr(self, key)
            if creates_cluster and given:
                problems.append(f"storage.{key}: target {target} makes its own buckets "
                                "(named after the deployment and account); leave it unset")
            if not creates_cluster and not given:
                problems.append(f"storage.{key}: required for target {target}: a bucket "
                                "of yours for the kit's " + ("runs and fine-tuned weights"
                                                             if key == "artifacts_uri" else
                                                             "mirrored base weights"))
        return problems if creates_cluster else problems + self._missing_owner(target)

    def _missing_owner(self, target: str) -> list[str]:
        """Buckets the operator names on a cluster the kit did not create hold PHI-derived
        weights: their owner must be stated wherever the storage can check it (S3, GCS), or
        the weights go to whoever holds a bucket of that name."""
        from kit.data.storage import BACKENDS, bucket_scheme

        if self.bucket_owner:
            return []
        for uri in (self.artifacts_uri, self.models_uri):
            form = BACKENDS[bucket_scheme(uri or "") or "file"].owner_form
            if uri and form:
                return [f"storage.bucket_owner: required for target {target} with {uri}: "
                        "the account that must own the kit's buckets (a 12-digit AWS account, "
                        "quoted, or a GCP project number); the kit refuses a bucket of that name "
                        "held by anyone else"]
        return []


# CloudWatch's (and the kit's) allowed retention periods, in days.
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                  2192, 2557, 2922, 3288, 3653)


class LogsConfig(Section):
    """The audit trail (control-plane audit logs, network flow logs, build logs): kept by a
    plain `kit down`, deleted only by `--purge`. Default: six years (HIPAA's retention)."""

    retention_days: int = 2192

    @field_validator("retention_days")
    @classmethod
    def _allowed(cls, value: int) -> int:
        if value not in RETENTION_DAYS:
            close = min(RETENTION_DAYS, key=lambda d: abs(d - value))
            raise ValueError(f"{value} is not a retention period logs can have (nearest: {close}; "
                             f"allowed: {', '.join(map(str, RETENTION_DAYS))})")
        return value
