"""kit.yaml's `gcp:` section: the one declaration of every GCP option. The stack reads it from
the validated kit.yaml it receives; nothing else restates it."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, model_validator

_NAME = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"


class GcpOptions(BaseModel):
    """GCP-only options. Defaults: a new custom-mode VPC network the kit creates and owns."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    # The project the stack deploys into: required for target gcp (every name derives from it).
    project: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    # An existing VPC network and subnetwork (with secondary ranges for pods and services).
    network: str | None = Field(default=None, pattern=_NAME)
    subnetwork: str | None = Field(default=None, pattern=_NAME)
    pods_range: str = Field(default="pods", pattern=_NAME)
    services_range: str = Field(default="services", pattern=_NAME)
    # Private DNS zones mapping googleapis.com, pkg.dev and gcr.io to the restricted VIP; turn
    # off only for an existing network whose own zones do the same (the firewall and the pods'
    # storage egress admit the restricted VIP, 199.36.153.4/30, and nothing else of Google's).
    private_dns: bool = True
    # Ranges of the network the kit creates (and the control plane's, in every case).
    subnet_cidr: str = "10.42.0.0/20"
    pods_cidr: str = "10.64.0.0/14"
    services_cidr: str = "10.68.0.0/20"
    master_cidr: str = "172.16.0.32/28"
    release_channel: str = Field(default="REGULAR", pattern=r"^(RAPID|REGULAR|STABLE|EXTENDED)$")
    # GKE's NVIDIA driver on the GPU pool: DEFAULT or LATEST for the node version.
    gpu_driver: str = Field(default="DEFAULT", pattern=r"^(DEFAULT|LATEST)$")
    # A Compute Engine reservation the GPU pool consumes (its name; in the project and the
    # pool's zones): A3 and H200 capacity is rarely on demand without one.
    reservation: str | None = Field(default=None, pattern=_NAME)
    # VPC Service Controls (stacks/gcp/perimeter.py), one of the three is required: the number
    # of the organization's access policy, in which the kit creates a perimeter around the
    # project (and gcp.data_project); or an existing perimeter the project already belongs to
    # (`kit doctor` checks it); or the reason you accept running without one (shown by
    # `kit plan`): without a perimeter, storage credentials inside the network can write to
    # any project's bucket.
    access_policy: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    service_perimeter: str | None = Field(
        default=None, pattern=r"^accessPolicies/[0-9]{1,20}/servicePerimeters/[A-Za-z][A-Za-z0-9_]{0,49}$")
    accept_no_perimeter: str | None = Field(default=None, min_length=10, max_length=300)
    # The project of data.uri's bucket when it is not gcp.project: it goes inside the perimeter.
    data_project: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")

    @model_validator(mode="after")
    def _coherent(self) -> "GcpOptions":
        if bool(self.network) != bool(self.subnetwork):
            raise ValueError("gcp.network: an existing network needs both network and subnetwork")
        chosen = [k for k in ("access_policy", "service_perimeter", "accept_no_perimeter")
                  if getattr(self, k)]
        if len(chosen) > 1:
            raise ValueError(f"gcp.{chosen[1]}: set one of gcp.access_policy, "
                             "gcp.service_perimeter and gcp.accept_no_perimeter, not "
                             f"{' and '.join(chosen)}")
        nets = {}
        for key in ("subnet_cidr", "pods_cidr", "services_cidr", "master_cidr"):
            try:
                net = ipaddress.ip_network(getattr(self, key))
            except ValueError:
                raise ValueError(f"gcp.{key}: {getattr(self, key)!r} is not an IPv4 CIDR "
                                 "(e.g. 10.42.0.0/20)") from None
            if not net.is_private:
                raise ValueError(f"gcp.{key}: {net} is not a private range")
            nets[key] = net
        if nets["master_cidr"].prefixlen != 28:
            raise ValueError(f"gcp.master_cidr: {nets['master_cidr']} must be a /28 (GKE's "
                             "control plane range)")
        keys = list(nets)
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                if nets[a].overlaps(nets[b]):
                    raise ValueError(f"gcp.{b}: {nets[b]} overlaps gcp.{a} ({nets[a]})")
        return self
