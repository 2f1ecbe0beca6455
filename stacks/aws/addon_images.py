"""Where EKS add-ons' images come from: an ECR registry of AWS's own in each region (the EKS
user guide, "View Amazon container image registries for Amazon EKS add-ons").

The ECR interface endpoints admit only this account's resources; nodes pull vpc-cni,
kube-proxy, coredns, the pod identity agent and the EBS CSI driver from this account of AWS's
through them, so the endpoint policies name it (image reads only, by this account's principals).
"""

from __future__ import annotations

from kit.errors import KitError

DEFAULT = "602401143452"
BY_REGION = {
    "af-south-1": "877085696533", "ap-east-1": "800184023465", "ap-east-2": "533267051163",
    "ap-southeast-3": "296578399912", "ap-south-2": "900889452093",
    "ap-southeast-4": "491585149902", "ap-southeast-6": "333609536671",
    "ap-southeast-7": "121268973566", "cn-north-1": "918309763551",
    "cn-northwest-1": "961992271922", "eu-south-1": "590381155156",
    "eu-south-2": "455263428931", "eu-central-2": "900612956339",
    "il-central-1": "066635153087", "mx-central-1": "730335286997",
    "me-south-1": "558608220178", "me-central-1": "759879836304",
    "ca-west-1": "761377655185", "us-gov-east-1": "151742754352",
    "us-gov-west-1": "013241004608", "eusc-de-east-1": "877088126301",
}
ON_DEFAULT = ("ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
              "ap-southeast-1", "ap-southeast-2", "eu-central-1", "eu-west-1", "eu-west-2",
              "eu-west-3", "eu-north-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
              "ca-central-1", "sa-east-1")


def addon_registry_account(region: str) -> str:
    """The account of the region's EKS add-on image registry."""
    if region in BY_REGION:
        return BY_REGION[region]
    if region in ON_DEFAULT:
        return DEFAULT
    raise KitError(f"region: {region!r} has no known EKS add-on image registry",
                   hint="use a region EKS supports (the EKS user guide lists their registries)")
